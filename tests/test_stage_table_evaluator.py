"""The product evaluator: a cost is the sum of the stages' cell values, a quality their mean."""

from __future__ import annotations

import numpy as np
import pytest
from stage_fixtures import cell_table

from hwnas.core.errors import ConfigError, DataError, EvaluationFailed
from hwnas.core.objectives import Objective
from hwnas.evaluators import EVALUATORS, make_evaluator
from hwnas.evaluators.stage_table import StageTableEvaluator
from hwnas.spaces import get_space
from hwnas.spaces.nb201 import NB201Space
from hwnas.strategies import get_strategy
from hwnas.study import Study


@pytest.fixture(scope="module")
def frame():
    return cell_table()


@pytest.fixture(scope="module")
def space():
    return get_space("nb201_stages", stages=3)


def _row(frame, text):
    return frame.index[frame["arch"] == text][0]


def test_cost_is_the_sum_and_quality_the_mean(frame, space):
    ev = StageTableEvaluator(frame, space, columns=["acc", "onnx_latency_ms"])
    assert ev.metric_kinds()["acc"].kind == "quality"
    assert ev.metric_kinds()["onnx_latency_ms"].unit == "ms"
    cells = [frame["arch"][i] for i in (17, 4000, 15000)]
    got = ev.evaluate(";".join(cells))
    rows = [_row(frame, c) for c in cells]
    assert got["acc"] == pytest.approx(frame["acc"][rows].mean())
    assert got["onnx_latency_ms"] == pytest.approx(frame["onnx_latency_ms"][rows].sum())
    genes = space.sample_genes(np.random.default_rng(0), 25)
    batch = ev.evaluate_genes(genes)
    for i in (0, 13, 24):
        one = ev.evaluate(space.from_genes(genes[i]))
        assert batch["acc"][i] == pytest.approx(one["acc"])
        assert batch["onnx_latency_ms"][i] == pytest.approx(one["onnx_latency_ms"])


def test_stage_columns_read_a_different_column_per_stage(frame, space):
    ev = StageTableEvaluator(frame, space, columns=["acc", "lat"],
                             stage_columns={"lat": "onnx_latency_ms, litert_latency_ms,tm_latency_ms"})
    assert ev.metric_kinds()["lat"].kind == "cost" and ev.metric_kinds()["lat"].unit == "ms"
    cells = [frame["arch"][i] for i in (3, 3, 9000)]
    rows = [_row(frame, c) for c in cells]
    expected = (frame["onnx_latency_ms"][rows[0]] + frame["litert_latency_ms"][rows[1]]
                + frame["tm_latency_ms"][rows[2]])
    assert ev.evaluate(";".join(cells))["lat"] == pytest.approx(expected)


def test_kinds_option_overrides_the_name_rule(frame, space):
    ev = StageTableEvaluator(frame, space, columns=["acc", "onnx_latency_ms"], kinds={"onnx_latency_ms": "quality",
                                                                                    "acc": "cost"})
    cells = [frame["arch"][i] for i in (1, 2, 3)]
    got = ev.evaluate(";".join(cells))
    assert got["onnx_latency_ms"] == pytest.approx(frame["onnx_latency_ms"][[1, 2, 3]].mean())
    assert got["acc"] == pytest.approx(frame["acc"][[1, 2, 3]].sum())


def test_a_cell_missing_from_the_table_is_read_from_its_canonical_cell(frame, space):
    cell = NB201Space()
    dead = "|nor_conv_1x1~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|none~2|"
    canon = cell.key(dead)
    smaller = frame[frame["arch"] != dead].reset_index(drop=True)
    ev = StageTableEvaluator(smaller, space, columns=["acc"])
    assert ev.evaluate(";".join([dead] * 3))["acc"] == pytest.approx(smaller["acc"][_row(smaller, canon)])


def test_registered_and_built_from_a_config_file(frame, space, tmp_path):
    assert "stage_table" in EVALUATORS.available()
    path = tmp_path / "cells.csv"
    frame.to_csv(path, index=False)
    ev = make_evaluator("stage_table", {"path": str(path), "stage_columns": {"lat": ["onnx_latency_ms"] * 3}},
                        space=space, columns=["acc", "lat"])
    assert ev.metrics == ("acc", "lat")
    assert ev.describe()["columns"]["lat"] == ["onnx_latency_ms"] * 3


def test_bad_input_names_the_column_or_the_cells(frame, space):
    with pytest.raises(DataError, match="'nope'"):
        StageTableEvaluator(frame, space, columns=["acc", "lat"], stage_columns={"lat": ["onnx_latency_ms", "nope",
                                                                                         "tm_latency_ms"]})
    with pytest.raises(DataError, match="column 'label' must be numeric"):
        StageTableEvaluator(frame, space, columns=["acc", "lat"], stage_columns={"lat": ["onnx_latency_ms", "label",
                                                                                         "tm_latency_ms"]})
    with pytest.raises(ConfigError, match=r"stage_columns\['lat'\] must name one column per stage \(3\)"):
        StageTableEvaluator(frame, space, columns=["lat"], stage_columns={"lat": ["onnx_latency_ms"]})
    with pytest.raises(ConfigError, match="not metrics"):
        StageTableEvaluator(frame, space, columns=["acc"], stage_columns={"lat": ["onnx_latency_ms"] * 3})
    gone = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"
    with pytest.raises(DataError, match=r"1 cell\(s\).*" + gone.replace("|", r"\|").replace("+", r"\+")):
        StageTableEvaluator(frame[frame["arch"] != gone], space, columns=["acc"])
    with pytest.raises(ConfigError, match="needs a space of NB201 stages"):
        StageTableEvaluator(frame, NB201Space(), columns=["acc"])


def test_a_missing_value_fails_that_evaluation_only(frame, space):
    holed = frame.copy()
    holed.loc[5, "tm_latency_ms"] = np.nan
    ev = StageTableEvaluator(holed, space, columns=["lat"],
                             stage_columns={"lat": ["onnx_latency_ms", "litert_latency_ms", "tm_latency_ms"]})
    with pytest.raises(EvaluationFailed, match="'tm_latency_ms'.*stage 3"):
        ev.evaluate(";".join([frame["arch"][5]] * 3))
    assert np.isfinite(ev.evaluate(";".join([frame["arch"][5], frame["arch"][5], frame["arch"][6]]))["lat"])


@pytest.mark.parametrize("strategy", ["random", "linas"])
def test_strategies_search_the_stage_space(frame, space, strategy):
    ev = StageTableEvaluator(frame, space, columns=["acc", "lat"],
                             stage_columns={"lat": ["onnx_latency_ms", "litert_latency_ms", "tm_latency_ms"]})
    study = Study(space, ev, [Objective("acc", "max"), Objective("lat", "min")], get_strategy(strategy), seed=0)
    study.optimize(40)
    done = [t for t in study.trials if t.state == "complete"]
    assert len(done) == 40
    assert len({t.key for t in done}) == 40
    assert all(len(t.key.split(";")) == 3 for t in done)
    first = done[0]
    assert first.metrics["lat"] == pytest.approx(ev.evaluate(first.key)["lat"])
