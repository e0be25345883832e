"""Synthetic NB201 devices: cost columns made from the executed operations, for trying strategies on cost
landscapes they were not developed on.

The costs are **synthetic** (not measurements); they stand for three families of hardware:

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
"""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd

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
