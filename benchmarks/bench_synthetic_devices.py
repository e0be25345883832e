"""Robustness probe: the search on NB201 against *synthetic* devices whose cost structure differs from the Pi 5's.

The issue's bars are checked on tasks and devices we do not have. This script
makes three devices of a different kind from ``nb201_hw.csv``'s real accuracy
columns and a cost model per executed operation, so a strategy can be tried on
cost landscapes it was never developed on. The costs are **synthetic** (not
measurements); they only stand for three families of hardware:

- ``synth_macs_ms``: compute-bound (an FPGA or systolic accelerator, where
  latency follows MACs): a 3x3 convolution costs 9x a 1x1, pooling and skips
  almost nothing;
- ``synth_launch_ms``: launch-bound (a small GPU at batch 1): every executed
  operation pays a kernel launch, pooling is as dear as a convolution, each
  node sum is one more kernel;
- ``synth_memory_ms``: memory-bound (a cache-starved CPU): every operation is
  one pass over the feature map, a skip is a copy, each node sum a pass.

Each cell's cost is ``base + sum of its executed edges' op costs (+ node sums)``,
from the canonical (executed) genes, times a log-normal noise factor drawn once
per measurement class (an NB201 table times each isomorphism class once), from a
seed fixed by the device name: the same table on every machine.

    .venv/bin/python benchmarks/bench_synthetic_devices.py --seeds 10 --budget 300 --jobs 2 \
        --out benchmarks/results/bench_synthetic.md

runs ``bench_table.py`` (random and linas by default) on every accuracy column vs
every synthetic device; the augmented table is written to ``--table-out``.
"""

from __future__ import annotations

import argparse
import sys
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_table  # noqa: E402

#: per executed edge: cost of (none, skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3)
DEVICES: dict[str, dict] = {
    "synth_macs_ms": {"base": 0.5, "op": (0.0, 0.0, 0.2, 1.8, 0.05), "add": 0.0, "noise": 0.02},
    "synth_launch_ms": {"base": 1.0, "op": (0.0, 0.03, 0.10, 0.16, 0.12), "add": 0.03, "noise": 0.03},
    "synth_memory_ms": {"base": 0.8, "op": (0.0, 0.08, 0.12, 0.14, 0.10), "add": 0.06, "noise": 0.04},
}
#: edges into nodes 1, 2, 3 (positions in NB201 gene order)
_INTO = ((0,), (1, 2), (3, 4, 5))


def synthetic_costs(frame: pd.DataFrame, arch_column: str = "arch", noise: bool = True) -> pd.DataFrame:
    """``frame`` with one column per synthetic device added (see the module docstring).

    As in the real table, one measurement per isomorphism class: the class's
    first-listed row is costed and its value copied to every member.
    ``noise=False`` gives the cost model alone.
    """
    from hwnas.spaces import get_space
    from hwnas.spaces.nb201_views import (
        apply_representatives,
        first_listed_representatives,
        nb201_measure_keys,
    )

    space = get_space("nb201")
    genes = space.genes_matrix([space.parse(a) for a in frame[arch_column]])
    keys = nb201_measure_keys(genes)
    canon = space.canonical_genes(apply_representatives(genes, first_listed_representatives(genes)))
    classes, inverse = np.unique(keys, return_inverse=True)
    out = frame.copy()
    for name, d in DEVICES.items():
        cost = d["base"] + np.asarray(d["op"])[canon].sum(axis=1)
        inputs = [(canon[:, list(edges)] != 0).sum(axis=1) for edges in _INTO]
        cost = cost + d["add"] * sum(np.maximum(k - 1, 0) for k in inputs)
        if noise:
            rng = np.random.default_rng(zlib.crc32(name.encode()))
            cost = cost * np.exp(rng.normal(0.0, d["noise"], len(classes)))[inverse.reshape(-1)]
        out[name] = cost
    return out


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
