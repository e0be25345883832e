"""benchmarks/oracle_strategy.py: the default strategy told the truth of one metric answers it exactly."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from stage_fixtures import cell_table

from hwnas.core.objectives import Objective
from hwnas.evaluators.stage_table import StageTableEvaluator
from hwnas.spaces import get_space
from hwnas.strategies import get_strategy
from hwnas.strategies.linas.models import Candidates, Encoded
from hwnas.study import Study

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def oracle():
    spec = importlib.util.spec_from_file_location("oracle_strategy", ROOT / "benchmarks" / "oracle_strategy.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("which, told, other", [("quality", "acc", "onnx_latency_ms"),
                                                ("cost", "onnx_latency_ms", "acc")])
def test_the_oracle_metric_is_predicted_exactly_and_the_other_by_its_surrogate(oracle, tmp_path, which, told, other):
    frame = cell_table(3)
    path = tmp_path / "cells.csv"
    frame.to_csv(path, index=False)
    space = get_space("nb201_stages", stages=2)
    evaluator = StageTableEvaluator(str(path), space, columns=["acc", "onnx_latency_ms"])
    strategy = get_strategy(f"linas_oracle_{which}")
    study = Study(space, evaluator, [Objective("acc", "max"), Objective("onnx_latency_ms", "min")], strategy, seed=0)
    study.optimize(30)
    assert len(study.trials) == 30
    genes = space.sample_genes(np.random.default_rng(1), 50)
    truth = evaluator.evaluate_genes(genes)
    pred = strategy.models.predict(Candidates(Encoded(genes, space.features(genes))))
    np.testing.assert_allclose(pred.members(told), np.repeat(truth[told][None], pred.members(told).shape[0], 0),
                               rtol=1e-6)
    assert not np.allclose(pred.mean(other)[0], truth[other], rtol=1e-3)  # the other metric: a surrogate's guess
