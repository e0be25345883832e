"""Shared fixtures. Real benchmark data lives in ../shared beside the repo (or $HWNAS_SHARED)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session", autouse=True)
def isolated_hwnas_cache(tmp_path_factory):
    """The test suite's own ``HWNAS_CACHE`` (a temporary folder), so tests never pin a reference latency in,
    read measurements from, or write data to the user's cache (``~/.cache/hwnas``).

    The only cached data set is MNIST-1D (``hwnas.data.mnist1d``, under ``$HWNAS_CACHE`` too); no test
    loads the default 5,000-sample arrays (``test_data`` generates 600 samples, about a second, in its own
    folder), so nothing from the user's data cache is worth sharing and everything is isolated. Tests that
    need a cache of their own still set ``HWNAS_CACHE`` with ``monkeypatch``."""
    folder = tmp_path_factory.mktemp("hwnas_cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HWNAS_CACHE", str(folder))
        yield folder


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

    from hwnas.spaces.nb201 import NB201Space

    space = NB201Space()
    genes = space.enumerate_genes()
    live = space.live_genes(genes)
    canon = space.canonical_genes(genes)
    acc = 60 + 8 * (live == 3).sum(1) + 5 * (live == 2).sum(1) - 3 * (live == 4).sum(1)
    acc = np.where((live != 0).any(1), acc, 10.0)
    lat = 1.0 + 2.0 * (canon == 3).sum(1) + 0.7 * (canon == 2).sum(1) + 0.3 * (canon == 4).sum(1)
    return pd.DataFrame({"arch": [space.format(space.from_genes(g)) for g in genes],
                         "acc": acc.astype(float), "lat_ms": lat})


@pytest.fixture(scope="session")
def pg_server():
    """A private PostgreSQL server for the session (see ``pg_server.py``); tests marked ``postgres`` use it."""
    pytest.importorskip("psycopg", reason="PostgreSQL storage needs psycopg: pip install 'hwnas[postgres]'")
    from pg_server import PostgresServer

    try:
        server = PostgresServer()
    except FileNotFoundError as e:
        pytest.skip(str(e))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_url(pg_server, request):
    """A fresh database on the session's PostgreSQL server, named for the test."""
    import re
    import uuid

    name = "t_" + re.sub(r"[^a-z0-9]+", "_", request.node.name.lower())[:40] + "_" + uuid.uuid4().hex[:8]
    return pg_server.new_database(name)
