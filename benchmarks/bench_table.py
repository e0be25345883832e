"""Benchmark every search strategy on the accuracy/latency pairs of nb201_hw.csv.

For each (accuracy column, latency column) pair and each strategy, runs the
ordinary study loop for ``--budget`` distinct evaluations on ``--seeds`` seeds
and records the hypervolume ratio (``hwnas.strategies.scoring``) at 50/100/300
evaluations, plus the time spent inside the strategy (ask + tell + surrogate
refits; evaluation excluded). Writes a markdown table (median [IQR]) and the
raw per-seed results as JSON.

    .venv/bin/python benchmarks/bench_table.py --seeds 10 --budget 300 --jobs 2 \
        --out benchmarks/results/bench_table.md

``--energy`` adds the accuracy/energy pairs (a check that nothing is tuned to latency).
Data: ``../shared/benchdata/nb201_hw.csv`` beside the repository (or $HWNAS_SHARED);
the script exits with a message when it is absent.
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
ENERGY = ("pi5_onnx_energy_mj", "pi5_litert_energy_mj", "pi5_torchmobile_energy_mj")
STRATEGIES = ("random", "evolution", "nsga2", "linas")


def shared_dir() -> Path:
    return Path(os.environ.get("HWNAS_SHARED", ROOT.parent / "shared"))


_FRAME = None


def _job(args: tuple) -> tuple:
    """One (pair, strategy, seed) run in a worker; the table is read once per worker."""
    global _FRAME
    acc, cost, strategy, seed, budget, path = args
    import pandas as pd

    from hwnas.app.bench_table import run_strategy
    from hwnas.core.objectives import Objective
    from hwnas.spaces import get_space

    if _FRAME is None:
        _FRAME = pd.read_csv(path)
    objectives = [Objective(acc, "max"), Objective(cost, "min")]
    r = run_strategy(_FRAME, get_space("nb201"), objectives, strategy, budget, [seed])
    return acc, cost, strategy, seed, {k: v[0] for k, v in r.items()}


def main(argv: list[str] | None = None, command: str | None = None) -> int:
    """``command``: the command line to print in OUT (default: this script's own)."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--budget", type=int, default=300)
    p.add_argument("--strategies", default=",".join(STRATEGIES))
    p.add_argument("--accuracy", default=",".join(ACCURACY))
    p.add_argument("--cost", default=",".join(LATENCY), help="cost columns (comma separated)")
    p.add_argument("--energy", action="store_true", help="use the energy columns as costs instead")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--table", type=Path, default=None,
                   help="the NB201 table (default: ../shared/benchdata/nb201_hw.csv or $HWNAS_SHARED)")
    p.add_argument("--out", type=Path, default=ROOT / "runs" / "bench_table.md",
                   help="markdown table (the JSON goes beside it unless --json)")
    p.add_argument("--json", type=Path, default=None, help="raw results (default: OUT with .json)")
    p.add_argument("--merge", type=Path, nargs="+", default=None,
                   help="only render OUT from earlier raw JSON files (e.g. runs split by strategy)")
    args = p.parse_args(argv)
    if args.merge:
        results: dict = {}
        for f in args.merge:
            for pair, by in json.loads(f.read_text()).items():
                results.setdefault(pair, {}).update(by)
        order = {s: i for i, s in enumerate(STRATEGIES)}
        results = {pair: dict(sorted(by.items(), key=lambda kv: order.get(kv[0], 99))) for pair, by in results.items()}
        command = "python benchmarks/bench_table.py " + " ".join(argv if argv is not None else sys.argv[1:])
        md = render(results, args, command, 0.0)
        args.out.write_text(md)
        print(md)
        return 0

    path = args.table or shared_dir() / "benchdata" / "nb201_hw.csv"
    if not path.exists():
        hint = "" if args.table else "; set HWNAS_SHARED to the folder holding benchdata/"
        print(f"bench_table: {path} not found{hint}", file=sys.stderr)
        return 1
    costs = ENERGY if args.energy else tuple(args.cost.split(","))
    strategies = args.strategies.split(",")
    pairs = [(a, c) for a in args.accuracy.split(",") for c in costs]
    jobs = [(a, c, s, seed, args.budget, str(path)) for a, c in pairs for s in strategies for seed in range(args.seeds)]
    results: dict = {}
    t0 = time.time()
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for i, (a, c, s, _seed, r) in enumerate(pool.map(_job, jobs)):
            results.setdefault(f"{a} vs {c}", {}).setdefault(s, []).append(r)
            if (i + 1) % 10 == 0:
                print(f"{i + 1}/{len(jobs)} runs, {time.time() - t0:.0f}s", flush=True)

    command = command or "python " + " ".join(
        [str(Path(sys.argv[0]).relative_to(ROOT)) if Path(sys.argv[0]).is_absolute() else sys.argv[0]]
        + (argv if argv is not None else sys.argv[1:]))
    md = render(results, args, command, time.time() - t0)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(md)
    raw = args.json or args.out.with_suffix(".json")
    slim = {pair: {s: [{k: v for k, v in r.items() if k != "evaluated"} for r in runs] for s, runs in by.items()}
            for pair, by in results.items()}
    raw.write_text(json.dumps(slim, indent=1))
    print(md)
    return 0


def render(results: dict, args, command: str, seconds: float) -> str:
    points = [c for c in (50, 100, 300) if c <= args.budget] or [args.budget]
    table = args.table.name if args.table else "nb201_hw.csv"
    lines = [
        f"# Search strategies on {table} (hypervolume ratio)",
        "",
        f"Median [interquartile range] over {args.seeds} seeds of the hypervolume ratio after N distinct",
        "evaluations (reference point: per-objective median of all 15,625 rows; see `hwnas.strategies.scoring`).",
        "Overhead: seconds spent inside the strategy (setup + ask + tell + surrogate refits, evaluation",
        "excluded) per 100 evaluations, median over runs, wall clock and process CPU time.",
    ]
    return results_page(lines, command, seconds, results, points, args.budget)


if __name__ == "__main__":
    sys.exit(main())
