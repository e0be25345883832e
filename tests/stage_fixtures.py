"""A synthetic NB201 cell table for the K-stage tests: every cell, random values."""

from __future__ import annotations

import numpy as np
import pandas as pd

from hwnas.spaces.nb201 import NB201Space


def cell_table(seed: int = 0) -> pd.DataFrame:
    """Every NB201 cell with random accuracies, latencies on three runtimes, and a text column."""
    cell = NB201Space()
    genes = cell.enumerate_genes()
    rng = np.random.default_rng(seed)
    n = len(genes)
    return pd.DataFrame({
        "arch": [cell.format(cell.from_genes(g)) for g in genes],
        "acc": rng.uniform(10, 95, n),
        "onnx_latency_ms": rng.uniform(1, 10, n),
        "litert_latency_ms": rng.uniform(1, 10, n),
        "tm_latency_ms": rng.uniform(1, 10, n),
        "label": ["x"] * n,
    })
