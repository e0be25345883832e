"""Evaluations in a process pool (and on Ray where installed) give the same study as in process."""

import pytest
from study_fixtures import ProbeStrategy

from hwnas.core.errors import ConfigError
from hwnas.core.objectives import Objective
from hwnas.evaluators.table import TableEvaluator
from hwnas.executors import make_executor
from hwnas.spaces.nb201 import NB201Space
from hwnas.study import Study

OBJ = [Objective("acc", "max"), Objective("lat_ms", "min")]


def _run(table, executor):
    ev = TableEvaluator(table, NB201Space(), columns=["acc", "lat_ms"])
    study = Study(NB201Space(), ev, OBJ, ProbeStrategy(), batch_size=6, seed=11, executor=executor)
    study.optimize(24)
    executor.close()
    return {t.key: t.metrics for t in study.trials}


def test_process_pool_matches_serial(synthetic_nb201_table):
    serial = _run(synthetic_nb201_table, make_executor("serial"))
    pooled = _run(synthetic_nb201_table, make_executor("process", workers=2))
    assert serial == pooled and len(serial) == 24


@pytest.mark.ray
def test_ray_matches_serial(synthetic_nb201_table):
    ray = pytest.importorskip("ray", reason="Ray is an optional extra: pip install 'hwnas[ray]'")
    try:
        pooled = _run(synthetic_nb201_table, make_executor("ray", num_cpus_per_task=0.5))
    finally:
        ray.shutdown()
    assert pooled == _run(synthetic_nb201_table, make_executor("serial"))


def test_unknown_executor():
    with pytest.raises(ConfigError, match=r"unknown executor 'gpu-farm'; allowed: \['process', 'ray', 'serial'\]"):
        make_executor("gpu-farm")
    with pytest.raises(ConfigError, match="workers must be >= 1"):
        make_executor("process", workers=0)
