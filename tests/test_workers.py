"""Many worker processes, one study: each evaluation claimed by exactly one worker, the budget shared."""

from __future__ import annotations

import json

import pytest
from worker_proc import SlowFormula
from workers_helpers import finish, rows, start_worker, worker_id

from hwnas.spaces.nb201 import NB201Space


def _four_workers_fill_one_study(storage: str) -> None:
    procs = [start_worker(storage, "shared", 200, "--delay", "0.01", "--seed", "3") for _ in range(4)]
    ids = [worker_id(p) for p in procs]
    finish(procs)
    got = rows(storage, "shared")
    assert len(got) == 200
    assert len({r.key for r in got}) == 200  # no architecture evaluated twice
    assert sorted(r.number for r in got) == list(range(200))
    assert {r.state for r in got} == {"complete"}  # none left running
    by_worker = {w: sum(r.worker == w for r in got) for w in ids}
    assert sum(by_worker.values()) == 200 and all(n > 0 for n in by_worker.values()), by_worker
    ev = SlowFormula()
    ev.bind(NB201Space())
    space = NB201Space()
    for r in got[:20]:  # each record holds its own architecture's metrics
        assert json.loads(r.metrics) == ev.evaluate(space.parse(r.key))


@pytest.mark.distributed
def test_four_workers_share_one_sqlite_study(tmp_path):
    _four_workers_fill_one_study(f"sqlite:///{tmp_path / 'shared.db'}")


@pytest.mark.distributed
@pytest.mark.postgres
def test_four_workers_share_one_postgres_study(pg_url):
    _four_workers_fill_one_study(pg_url)
