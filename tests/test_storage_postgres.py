"""The same study contract on PostgreSQL, on the session's private server (tests/pg_server.py)."""

import socket
import time

import pytest
from study_fixtures import ProbeStrategy

from hwnas.core.errors import ConfigError, StudyMismatch
from hwnas.core.objectives import Objective
from hwnas.evaluators.table import TableEvaluator
from hwnas.spaces.nb201 import NB201Space
from hwnas.storage import SQLStorage
from hwnas.study import Study

OBJ = [Objective("acc", "max"), Objective("lat_ms", "min")]


@pytest.mark.postgres
def test_study_resumes_on_postgres(pg_url, synthetic_nb201_table):
    ev = TableEvaluator(synthetic_nb201_table, NB201Space(), columns=["acc", "lat_ms"])
    s1 = Study(NB201Space(), ev, OBJ, ProbeStrategy(), storage=SQLStorage(pg_url), name="pg", seed=1)
    s1.optimize(12)
    s2 = Study(NB201Space(), ev, OBJ, ProbeStrategy(), storage=SQLStorage(pg_url), name="pg", seed=1)
    assert s2.n_evaluated == 12 and s2.replayed_rounds == 12  # rebuilt by replaying the stored rounds
    s2.optimize(20)
    storage = SQLStorage(pg_url)
    storage.open_study("pg", s2.fingerprint())
    rows = storage.trials("pg")
    assert len(rows) == 20 and len({t.key for t in rows}) == 20
    assert {t.key: t.metrics for t in s1.trials}.items() <= {t.key: t.metrics for t in rows}.items()
    # the same seed and budget in one go records the same trials
    one = Study(NB201Space(), ev, OBJ, ProbeStrategy(), storage=SQLStorage(pg_url), name="pg-once", seed=1)
    one.optimize(20)
    assert [(t.number, t.key, t.metrics) for t in one.trials] == [(t.number, t.key, t.metrics) for t in rows]
    with pytest.raises(StudyMismatch, match="seed"):
        Study(NB201Space(), ev, OBJ, ProbeStrategy(), storage=SQLStorage(pg_url), name="pg", seed=2)


@pytest.mark.postgres
def test_the_heartbeat_uses_the_servers_clock(pg_url):
    storage = SQLStorage(pg_url)
    storage.open_study("s", {"seed": 0})
    claim = storage.claim("s", "w1", [("k1", {"a": 1})], budget=None)
    assert [t.key for t in claim.mine] == ["k1"]
    beat = storage.last_heartbeat("s")
    assert abs(beat - time.time()) < 60  # epoch seconds from the server
    (running,) = storage.running("s")
    assert running.worker == "w1" and 0 <= running.age_s < 60


def test_an_unreachable_database_is_a_clear_error_within_seconds():
    pytest.importorskip("psycopg")
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"postgresql+psycopg://someone:secret@127.0.0.1:{port}/studies"
    t0 = time.perf_counter()
    with pytest.raises(ConfigError, match=rf"storage postgresql\+psycopg://someone:\*\*\*@127.0.0.1:{port}/studies: "
                                          "cannot use the database") as err:
        SQLStorage(url)
    assert time.perf_counter() - t0 < 10
    assert "secret" not in str(err.value)
