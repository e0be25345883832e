"""Strategy overhead on the `mobilenet` space (about 1.7 x 10^8 architectures), with a cheap synthetic evaluator.

The evaluator stands in for a trained super-network so that only the strategy's time is measured:
``acc`` is a smooth, saturating function of the genes (wider, deeper, larger kernels and expansions
help with diminishing returns, plus fixed random interactions between neighbouring genes, seed 0),
and ``mmacs`` is the network's multiply-accumulates counted from its layer list (``count`` cost
model). For each strategy and seed the ordinary study loop runs ``--budget`` evaluations; the
report gives the seconds spent inside the strategy (setup + ask + tell + surrogate refits,
evaluation excluded) per 100 evaluations, as process CPU time and wall clock, median over seeds.

    .venv/bin/python benchmarks/bench_overhead_mobilenet.py --seeds 3 --budget 300 \
        --out benchmarks/results/bench_overhead_mobilenet.md
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def synthetic_evaluator(space):
    """``acc`` from the genes (smooth, saturating, with neighbour interactions) and ``mmacs`` from the layers."""
    from hwnas.costs.count import CountModel
    from hwnas.evaluators.base import CombinedEvaluator, Evaluator
    from hwnas.evaluators.cost import CostEvaluator

    class SmoothAccuracy(Evaluator):
        metrics = ("acc",)

        def __init__(self):
            rng = np.random.default_rng(0)
            card = space.cardinalities
            self.scale = rng.uniform(0.5, 1.5, len(card))
            self.pair = rng.normal(0.0, 0.3, len(card))
            self.norm = np.maximum(card - 1, 1).astype(float)

        def evaluate(self, arch):
            g = space.to_genes(space.canonical(arch)) / self.norm  # each gene in [0, 1]
            score = float(self.scale @ np.sqrt(g) + (self.pair * g * np.roll(g, 1)).sum())
            return {"acc": 100.0 * (1.0 - np.exp(-max(score, 0.0) / 4.0))}

    cost = CostEvaluator(CountModel(precisions=("fp32",)))
    return CombinedEvaluator([SmoothAccuracy(), cost])


def run(strategy_name: str, seed: int, budget: int) -> dict:
    from hwnas.app.bench_table import instrument
    from hwnas.core.objectives import Objective
    from hwnas.spaces import get_space
    from hwnas.strategies import get_strategy
    from hwnas.study import Study

    space = get_space("mobilenet")
    evaluator = synthetic_evaluator(space)
    strategy = get_strategy(strategy_name)
    clock = instrument(strategy)
    study = Study(space, evaluator, [Objective("acc", "max"), Objective("mmacs", "min")], strategy, seed=seed)
    study.optimize(budget)
    return {"evaluated": len(study.trials), **clock}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--budget", type=int, default=300)
    p.add_argument("--strategies", default="random,linas")
    p.add_argument("--out", type=Path, default=ROOT / "runs" / "bench_overhead_mobilenet.md")
    args = p.parse_args(argv)
    if args.seeds < 1 or args.budget < 1:
        print("bench_overhead_mobilenet: --seeds and --budget must be >= 1", file=sys.stderr)
        return 1
    command = "python benchmarks/bench_overhead_mobilenet.py " + " ".join(argv if argv is not None else sys.argv[1:])
    lines = [
        "# Strategy overhead on the `mobilenet` space (synthetic accuracy, MACs from `count`)",
        "",
        "Seconds inside the strategy (setup + ask + tell + surrogate refits, evaluation excluded) per 100",
        f"evaluations, median over {args.seeds} seeds, budget {args.budget}: process CPU time and wall clock.",
        "",
        f"Command: `{command}`",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPU(s), shared with other jobs while measured.",
        "",
        "| strategy | evaluated | CPU s / 100 | wall s / 100 |",
        "|---|---|---|---|",
    ]
    for name in args.strategies.split(","):
        runs = [run(name, seed, args.budget) for seed in range(args.seeds)]
        per = 100.0 / args.budget
        lines.append(f"| {name} | {min(r['evaluated'] for r in runs)} | "
                     f"{np.median([r['cpu'] for r in runs]) * per:.2f} | {np.median([r['wall'] for r in runs]) * per:.2f} |")
        print(lines[-1], flush=True)
    md = "\n".join(lines) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
