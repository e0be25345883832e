"""Benchmark search strategies on K-stage networks of NB201 cells (a space with a known exact front).

An architecture is K NB201 cells, one per stage (``nb201_stages``); a latency is the sum of the K
cells' latencies from ``nb201_hw.csv``, an accuracy their mean (``hwnas.evaluators.stage_table``).
For each (accuracy, latency) pair and strategy, runs the ordinary study loop for ``--budget``
distinct evaluations on ``--seeds`` seeds and records the hypervolume ratio against the exact front
(``hwnas.strategies.scoring_stages``: reference point at the median of 10,000 random networks, seed
0) at 50/100/300/1000 evaluations, and the time spent inside the strategy (ask + tell + surrogate
refits; evaluation excluded). ``--mixed`` adds the mixed-stage pairs: stage s timed on runtime s
(ONNX Runtime, LiteRT, TorchScript, then round again); ``--accuracy mixed_acc`` is an accuracy
with a different task per stage (stage s trained on CIFAR-10, CIFAR-100, ImageNet16-120). Writes a markdown table and the raw
per-seed results (JSON beside it; with ``--archs`` also every run's evaluated architectures).

    .venv/bin/python benchmarks/bench_stages.py --stages 3 --seeds 10 --budget 300 --jobs 2 \
        --out benchmarks/results/bench_stages.md

``--strategies linas,linas_oracle_quality,linas_oracle_cost`` measures the ceiling of a better surrogate:
the same search told the true quality (resp. cost) of every candidate (``benchmarks/oracle_strategy.py``).

``--profile OUT`` instead runs one search (first pair, first strategy, seed 0) under cProfile and
prints the top entries by cumulative time. Data: ``../shared/benchdata/nb201_hw.csv`` beside the
repository (or $HWNAS_SHARED); the script exits with a message when it is absent.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from hwnas.app.bench_table import results_page

ROOT = Path(__file__).resolve().parents[1]
ACCURACY = ("cifar10_acc", "cifar100_acc", "imagenet16_acc")
LATENCY = ("pi5_onnx_latency_ms", "pi5_litert_latency_ms", "pi5_torchmobile_latency_ms")
MIXED = "mixed_latency_ms"
#: an accuracy with a different task per stage: stage s reads ACCURACY[s] (cycling)
MIXED_ACCURACY = "mixed_acc"
STRATEGIES = ("random", "linas")
#: baselines with a dependency hwnas does not have (``pip install optuna``)
OPTUNA = ("optuna_tpe", "optuna_nsga2")
#: diagnostics: the default strategy with the truth instead of one metric's surrogate (``oracle_strategy.py``)
ORACLES = ("linas_oracle_quality", "linas_oracle_cost")


def shared_dir() -> Path:
    return Path(os.environ.get("HWNAS_SHARED", ROOT.parent / "shared"))


def stage_columns(acc: str, cost: str, stages: int) -> dict | None:
    """The mixed-stage latency reads runtime s at stage s, the mixed-task accuracy task s (cycling); any
    other metric reads its own column."""
    out = {}
    if cost == MIXED:
        out[MIXED] = [LATENCY[s % len(LATENCY)] for s in range(stages)]
    if acc == MIXED_ACCURACY:
        out[MIXED_ACCURACY] = [ACCURACY[s % len(ACCURACY)] for s in range(stages)]
    return out or None


_PARTS: dict = {}


def _parts(path: str, acc: str, cost: str, stages: int):
    """Space, evaluator and scorer of one pair, built once per worker."""
    key = (acc, cost)
    if key not in _PARTS:
        from hwnas.core.objectives import Objective
        from hwnas.evaluators.stage_table import StageTableEvaluator
        from hwnas.spaces import get_space
        from hwnas.strategies.scoring_stages import StageScorer

        space = get_space("nb201_stages", stages=stages)
        objectives = [Objective(acc, "max"), Objective(cost, "min")]
        ev = StageTableEvaluator(path, space, columns=[acc, cost], stage_columns=stage_columns(acc, cost, stages))
        _PARTS[key] = (space, objectives, ev, StageScorer(ev, objectives))
    return _PARTS[key]


def _job(args: tuple) -> tuple:
    acc, cost, strategy, seed, budget, stages, path = args
    from hwnas.app.bench_table import run_strategy

    if strategy in OPTUNA:
        import optuna_strategy  # noqa: F401  (registers the Optuna samplers; benchmarks/ is on sys.path)
    if strategy in ORACLES:
        import oracle_strategy  # noqa: F401  (registers the oracle diagnostics)

    space, objectives, ev, scorer = _parts(path, acc, cost, stages)
    r = run_strategy(None, space, objectives, strategy, budget, [seed], evaluator=ev, scorer=scorer)
    return acc, cost, strategy, seed, {k: v[0] for k, v in r.items()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--stages", type=int, default=3)
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--budget", type=int, default=300)
    p.add_argument("--strategies", default=",".join(STRATEGIES))
    p.add_argument("--accuracy", default=",".join(ACCURACY),
                   help=f"accuracy columns (comma separated); {MIXED_ACCURACY!r}: stage s reads task s (cifar10, "
                        "cifar100, imagenet16, then round again)")
    p.add_argument("--cost", default=",".join(LATENCY), help="latency columns (comma separated)")
    p.add_argument("--mixed", action="store_true", help=f"add the mixed-stage latency {MIXED!r} per accuracy")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--archs", action="store_true",
                   help="keep every run's evaluated architectures (the K cells joined by ';') in the JSON, so the "
                        "scores can be recomputed from the table")
    p.add_argument("--table", type=Path, default=None,
                   help="the NB201 table (default: ../shared/benchdata/nb201_hw.csv or $HWNAS_SHARED)")
    p.add_argument("--out", type=Path, default=ROOT / "runs" / "bench_stages.md",
                   help="markdown table (the JSON goes beside it)")
    p.add_argument("--profile", type=Path, default=None, metavar="OUT",
                   help="profile one search (first pair and strategy, seed 0) into OUT and print the top entries")
    args = p.parse_args(argv)
    if args.stages < 1:
        print(f"bench_stages: --stages must be >= 1, got {args.stages}", file=sys.stderr)
        return 1
    path = args.table or shared_dir() / "benchdata" / "nb201_hw.csv"
    if not path.exists():
        hint = "" if args.table else "; set HWNAS_SHARED to the folder holding benchdata/"
        print(f"bench_stages: {path} not found{hint}", file=sys.stderr)
        return 1
    costs = list(args.cost.split(",")) if args.cost else []
    if args.mixed:
        costs.append(MIXED)
    strategies = args.strategies.split(",")
    if set(strategies) & set(OPTUNA):
        try:
            import optuna  # noqa: F401
        except ImportError:
            print("bench_stages: the Optuna baselines need optuna: .venv/bin/pip install optuna", file=sys.stderr)
            return 1
    pairs = [(a, c) for a in args.accuracy.split(",") for c in costs]
    if args.profile:
        return profile(args, pairs[0], strategies[0], str(path))
    jobs = [(a, c, s, seed, args.budget, args.stages, str(path))
            for a, c in pairs for s in strategies for seed in range(args.seeds)]
    results: dict = {}
    t0 = time.time()
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for i, (a, c, s, _seed, r) in enumerate(pool.map(_job, jobs)):
            results.setdefault(f"{a} vs {c}", {}).setdefault(s, []).append(r)
            if (i + 1) % 10 == 0:
                print(f"{i + 1}/{len(jobs)} runs, {time.time() - t0:.0f}s", flush=True)
    command = "python benchmarks/bench_stages.py " + " ".join(argv if argv is not None else sys.argv[1:])
    md = render(results, args, command, time.time() - t0)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(md)
    if not args.archs:  # the evaluated architectures of every run: tens of MB at 10 seeds x 12 pairs
        for runs in (r for pair in results.values() for r in pair.values()):
            for run in runs:
                run.pop("evaluated", None)
    args.out.with_suffix(".json").write_text(json.dumps(results, indent=1))
    print(md)
    return 0


def profile(args, pair: tuple[str, str], strategy: str, path: str) -> int:
    import cProfile
    import pstats

    acc, cost = pair
    _parts(path, acc, cost, args.stages)  # the table and the exact front are not the strategy's time
    prof = cProfile.Profile()
    prof.enable()
    _job((acc, cost, strategy, 0, args.budget, args.stages, path))
    prof.disable()
    args.profile.parent.mkdir(parents=True, exist_ok=True)
    prof.dump_stats(str(args.profile))
    pstats.Stats(prof).sort_stats("cumulative").print_stats(35)
    pstats.Stats(prof).sort_stats("tottime").print_stats(20)
    return 0


def render(results: dict, args, command: str, seconds: float) -> str:
    points = [c for c in (50, 100, 300, 1000) if c <= args.budget] or [args.budget]
    lines = [
        f"# Search strategies on {args.stages}-stage networks of NB201 cells (hypervolume ratio)",
        "",
        f"Median [interquartile range] over {args.seeds} seeds of the hypervolume ratio after N distinct",
        "evaluations, against the exact front (`hwnas.strategies.scoring_stages`); reference point: the median",
        "of 10,000 random networks (seed 0). Latency = sum of the stages' cells, accuracy = their mean;",
        f"`{MIXED}`: stage s timed on runtime s (ONNX Runtime, LiteRT, TorchScript); `{MIXED_ACCURACY}`: stage s",
        "trained on task s (CIFAR-10, CIFAR-100, ImageNet16-120).",
        "Overhead: seconds inside the strategy (setup + ask + tell + surrogate refits, evaluation excluded)",
        "per 100 evaluations, median over runs, wall clock and process CPU time.",
    ]
    return results_page(lines, command, seconds, results, points, args.budget)


if __name__ == "__main__":
    sys.exit(main())
