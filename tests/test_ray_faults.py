"""The executors' fault policy: a worker that dies or an evaluation past its timeout is recorded failed after
its retries and the search goes on; serial, process pool and Ray give the same seeded front; an unreachable
Ray address is refused quickly by name."""

from __future__ import annotations

import os
import sys
import time

import pytest

from hwnas.core.errors import ConfigError
from hwnas.core.objectives import Objective
from hwnas.core.trial import COMPLETE, FAILED
from hwnas.evaluators.base import Evaluator
from hwnas.evaluators.table import TableEvaluator
from hwnas.executors import make_executor
from hwnas.spaces.nb201 import NB201Space
from hwnas.strategies import get_strategy
from hwnas.study import Study

OBJ = [Objective("acc", "max"), Objective("lat_ms", "min")]


class Saboteur(Evaluator):
    """A table evaluator that kills its worker process (``os._exit``) or hangs on chosen architectures.

    ``marks`` (a folder) counts attempts: each attempt at a doomed architecture leaves a file there, so a
    test can check how many times it was tried across processes."""

    def __init__(self, table, crash: set[str] = frozenset(), hang: set[str] = frozenset(), marks: str = ""):
        self.inner = TableEvaluator(table, NB201Space(), columns=["acc", "lat_ms"])
        self.metrics = self.inner.metrics
        self.crash, self.hang, self.marks = set(crash), set(hang), marks
        self.space = NB201Space()

    def metric_kinds(self):
        return self.inner.metric_kinds()

    def describe(self):
        return {"name": "saboteur"}

    def evaluate(self, arch):
        key = self.space.format(arch)
        if key in self.crash or key in self.hang:
            with open(os.path.join(self.marks, f"{abs(hash(key))}-{os.getpid()}-{time.monotonic_ns()}"), "w"):
                pass
        if key in self.crash:
            os._exit(3)
        if key in self.hang:
            time.sleep(60)
        return self.inner.evaluate(arch)


def _doomed(table, n: int) -> list[str]:
    """The first ``n`` architectures a seeded random search proposes (so they are surely evaluated)."""
    space = NB201Space()
    study = Study(space, TableEvaluator(table, space, columns=["acc", "lat_ms"]), OBJ, get_strategy("random"),
                  batch_size=4, seed=5)
    study.optimize(8)
    return [t.key for t in study.trials[:n]]


def _study(evaluator, executor, budget=12):
    study = Study(NB201Space(), evaluator, OBJ, get_strategy("random"), batch_size=4, seed=5, executor=executor)
    try:
        study.optimize(budget)
    finally:
        executor.close()
    return study


def _marks(folder) -> int:
    return len(os.listdir(folder))


# ---------------------------------------------------------------------------- process pool
def test_pool_worker_crash_is_recorded_and_search_goes_on(synthetic_nb201_table, tmp_path):
    doomed = _doomed(synthetic_nb201_table, 1)
    ev = Saboteur(synthetic_nb201_table, crash=set(doomed), marks=str(tmp_path))
    study = _study(ev, make_executor("process", workers=2, max_retries=1))
    by_key = {t.key: t for t in study.trials}
    assert study.n_evaluated == 12
    assert by_key[doomed[0]].state == FAILED and "worker process died" in by_key[doomed[0]].error
    assert "2 attempt(s)" in by_key[doomed[0]].error
    assert sum(t.state == COMPLETE for t in study.trials) == 11  # the bystanders of the crash completed
    assert _marks(tmp_path) == 2  # tried once, retried once


def test_pool_timeout_is_recorded_and_search_goes_on(synthetic_nb201_table, tmp_path):
    doomed = _doomed(synthetic_nb201_table, 1)
    ev = Saboteur(synthetic_nb201_table, hang=set(doomed), marks=str(tmp_path))
    t0 = time.monotonic()
    study = _study(ev, make_executor("process", workers=2, timeout_s=1.5), budget=8)
    assert time.monotonic() - t0 < 30
    by_key = {t.key: t for t in study.trials}
    assert by_key[doomed[0]].state == FAILED and "executor.options.timeout_s=1.5s" in by_key[doomed[0]].error
    assert sum(t.state == COMPLETE for t in study.trials) == 7 and _marks(tmp_path) == 1


def test_bad_policy_is_refused():
    with pytest.raises(ConfigError, match="max_retries must be an integer >= 0"):
        make_executor("process", max_retries=-1)
    with pytest.raises(ConfigError, match="timeout_s must be > 0"):
        make_executor("process", timeout_s=0)


# ---------------------------------------------------------------------------- Ray
@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray", reason="Ray is an optional extra: pip install 'hwnas[ray]'")
    from ray import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import this test module
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.mark.ray
def test_ray_unreachable_address_is_refused_quickly():
    pytest.importorskip("ray")
    import ray

    if ray.is_initialized():
        pytest.skip("a Ray instance is already running in this process")
    t0 = time.monotonic()
    with pytest.raises(ConfigError, match=r"executor.options.address '127.0.0.1:9'.*no Ray cluster reachable"):
        make_executor("ray", address="127.0.0.1:9", connect_timeout_s=2)
    with pytest.raises(ConfigError, match=r"executor.options.address 'nohost' is not host:port"):
        make_executor("ray", address="nohost")
    assert time.monotonic() - t0 < 10 and not ray.is_initialized()


@pytest.mark.ray
def test_ray_worker_crash_is_recorded_after_its_retries(local_ray, synthetic_nb201_table, tmp_path):
    doomed = _doomed(synthetic_nb201_table, 1)
    ev = Saboteur(synthetic_nb201_table, crash=set(doomed), marks=str(tmp_path))
    study = _study(ev, make_executor("ray", max_retries=1, num_cpus_per_task=1))
    by_key = {t.key: t for t in study.trials}
    assert study.n_evaluated == 12
    error = by_key[doomed[0]].error
    # how Ray reports the death (WorkerCrashedError, or the task's stream ending early) depends on timing
    assert by_key[doomed[0]].state == FAILED and error.startswith("Ray worker died during the evaluation (")
    assert error.endswith("(2 attempt(s))")
    assert sum(t.state == COMPLETE for t in study.trials) == 11
    assert _marks(tmp_path) == 2  # Ray's default would have tried four times


@pytest.mark.ray
def test_ray_timeout_is_recorded_after_its_retries(local_ray, synthetic_nb201_table, tmp_path):
    doomed = _doomed(synthetic_nb201_table, 1)
    ev = Saboteur(synthetic_nb201_table, hang=set(doomed), marks=str(tmp_path))
    t0 = time.monotonic()
    study = _study(ev, make_executor("ray", max_retries=1, timeout_s=2), budget=8)
    assert time.monotonic() - t0 < 60
    by_key = {t.key: t for t in study.trials}
    assert by_key[doomed[0]].state == FAILED
    assert "exceeded executor.options.timeout_s=2s (2 attempt(s))" in by_key[doomed[0]].error
    assert sum(t.state == COMPLETE for t in study.trials) == 7, [t.error for t in study.trials]


@pytest.mark.ray
def test_same_seeded_front_serial_pool_and_ray(local_ray, synthetic_nb201_table):
    """The bar: one seeded study, run in this process, on a process pool and on Ray, finds the same front."""

    def front(executor):
        space = NB201Space()
        ev = TableEvaluator(synthetic_nb201_table, space, columns=["acc", "lat_ms"])
        study = Study(space, ev, OBJ, get_strategy("nsga2"), batch_size=8, seed=3, executor=executor)
        study.optimize(40)
        executor.close()
        return [(t.key, t.metrics) for t in study.pareto_front()], [t.key for t in study.trials]

    serial = front(make_executor("serial"))
    assert len(serial[0]) >= 2
    assert front(make_executor("process", workers=2)) == serial
    assert front(make_executor("ray", num_cpus_per_task=0.5)) == serial

