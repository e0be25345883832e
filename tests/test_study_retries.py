"""A running trial whose owner is gone is taken over at most max_retries times, then recorded failed with why."""

import pytest
from worker_proc import OBJ, SlowFormula

from hwnas.core.errors import ConfigError
from hwnas.spaces.nb201 import NB201Space
from hwnas.storage import InMemoryStorage, SQLStorage
from hwnas.strategies import get_strategy
from hwnas.study import Study

FAR = "elsewhere:4242::feedface"  # a worker on another machine: judged by its heartbeat only


@pytest.mark.parametrize("kind", ["sqlite", "memory"])
def test_take_over_counts_retries_then_fails_with_the_reason(tmp_path, kind):
    storage = SQLStorage(tmp_path / "s.db") if kind == "sqlite" else InMemoryStorage()
    storage.open_study("s", {"seed": 0})
    storage.claim("s", FAR, [("k", {"a": 1})], budget=None)
    assert storage.requeue("s", "me", grace_s=30, max_retries=1) == ([], [])  # fresh heartbeat: alive
    taken, failed = storage.requeue("s", "me", grace_s=30, max_retries=1, dead={FAR})
    assert [t.key for t in taken] == ["k"] and not failed
    assert storage.running("s")[0].worker == "me" and storage.running("s")[0].retries == 1
    assert storage.finish("s", FAR, taken[0]) is False  # the old owner's late result is not written
    taken, failed = storage.requeue("s", "other", grace_s=0.0, max_retries=1)  # "me" silent now
    assert not taken and [t.state for t in failed] == ["failed"]
    assert "abandoned after 1 retries: worker me sent no heartbeat" in failed[0].error
    assert storage.counts("s") == (1, 1)


def test_a_study_records_an_abandoned_trial_failed_past_its_retries(tmp_path):
    storage = SQLStorage(tmp_path / "s.db")
    study = Study(NB201Space(), SlowFormula(), OBJ, get_strategy("random"), storage=storage, name="s",
                  heartbeat_s=0.05, grace_s=0.1, max_retries=0)
    arch = NB201Space().from_genes(NB201Space().sample_genes(__import__("numpy").random.default_rng(0), 1)[0])
    key = NB201Space().key(arch)
    storage.claim("s", FAR, [(key, arch)], budget=None)
    __import__("time").sleep(0.2)
    study.optimize(5)
    (t,) = [t for t in study.trials if t.key == key]
    assert t.state == "failed" and f"worker {FAR} sent no heartbeat" in t.error and study.n_evaluated == 5


def test_heartbeat_must_be_shorter_than_the_grace_period():
    with pytest.raises(ConfigError, match=r"study.heartbeat_s \(60\).*below study.grace_s \(30\)"):
        Study(NB201Space(), SlowFormula(), OBJ, get_strategy("random"), heartbeat_s=60, grace_s=30)
