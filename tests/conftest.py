"""Shared fixtures. Real benchmark data lives in ../shared beside the repo (or $HWNAS_SHARED)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_dir() -> Path:
    return Path(os.environ.get("HWNAS_SHARED", REPO.parent / "shared"))


@pytest.fixture(scope="session")
def nb201_csv() -> Path:
    path = shared_dir() / "benchdata" / "nb201_hw.csv"
    if not path.exists():
        pytest.skip(f"real benchmark data not found at {path} (set HWNAS_SHARED to the folder holding benchdata/)")
    return path


@pytest.fixture(scope="session")
def synthetic_nb201_table():
    """All 15,625 NB201 cells with metrics computed from the cell: a table that needs no shared data."""
    import numpy as np
    import pandas as pd

    from hwnas.spaces import NB201Space

    space = NB201Space()
    genes = space.enumerate_genes()
    live = space.live_genes(genes)
    canon = space.canonical_genes(genes)
    acc = 60 + 8 * (live == 3).sum(1) + 5 * (live == 2).sum(1) - 3 * (live == 4).sum(1)
    acc = np.where((live != 0).any(1), acc, 10.0)
    lat = 1.0 + 2.0 * (canon == 3).sum(1) + 0.7 * (canon == 2).sum(1) + 0.3 * (canon == 4).sum(1)
    return pd.DataFrame({"arch": [space.format(space.from_genes(g)) for g in genes],
                         "acc": acc.astype(float), "lat_ms": lat})
