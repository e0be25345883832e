"""Robustness probe: the search on NB201 against *synthetic* devices whose cost structure differs from the Pi 5's.

The issue's bars are checked on tasks and devices we do not have. This script
makes three devices of a different kind from ``nb201_hw.csv``'s real accuracy
columns and a cost model per executed operation, so a strategy can be tried on
cost landscapes it was never developed on. The costs are **synthetic** (not
measurements); they stand for three families of hardware, compute-bound,
launch-bound and memory-bound (:mod:`hwnas.costs.synthetic`).

    .venv/bin/python benchmarks/bench_synthetic_devices.py --seeds 10 --budget 300 --jobs 2 \
        --out benchmarks/results/bench_synthetic.md

runs ``bench_table.py`` (random and linas by default) on every accuracy column vs
every synthetic device; the augmented table is written to ``--table-out``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_table  # noqa: E402

from hwnas.costs.synthetic import DEVICES, synthetic_costs  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--budget", type=int, default=300)
    p.add_argument("--strategies", default="random,linas")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "bench_synthetic.md")
    p.add_argument("--table-out", type=Path, default=ROOT / "runs" / "nb201_synthetic.csv",
                   help="where the table with the synthetic cost columns is written")
    args = p.parse_args(argv)
    source = bench_table.shared_dir() / "benchdata" / "nb201_hw.csv"
    if not source.exists():
        print(f"bench_synthetic_devices: {source} not found; set HWNAS_SHARED to the folder holding benchdata/",
              file=sys.stderr)
        return 1
    args.table_out.parent.mkdir(parents=True, exist_ok=True)
    synthetic_costs(pd.read_csv(source)).to_csv(args.table_out, index=False)
    command = "python benchmarks/bench_synthetic_devices.py " + " ".join(sys.argv[1:] if argv is None else argv)
    return bench_table.main(["--table", str(args.table_out), "--cost", ",".join(DEVICES),
                             "--strategies", args.strategies, "--seeds", str(args.seeds),
                             "--budget", str(args.budget), "--jobs", str(args.jobs), "--out", str(args.out)],
                            command=command.strip())


if __name__ == "__main__":
    sys.exit(main())
