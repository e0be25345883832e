"""``hwnas bench-table --stages K``: K-stage networks of a cell table, scored against the exact front."""

from __future__ import annotations

import json

import pytest
from stage_fixtures import cell_table

from hwnas.app.bench_table import checkpoints_for, parse_stage_columns
from hwnas.cli.main import main
from hwnas.core.errors import ConfigError
from hwnas.core.objectives import Objective
from hwnas.evaluators.stage_table import StageTableEvaluator
from hwnas.spaces import get_space
from hwnas.strategies.scoring_stages import StageScorer


@pytest.fixture(scope="module")
def frame():
    return cell_table(2)


@pytest.fixture(scope="module")
def table_csv(tmp_path_factory, frame):
    path = tmp_path_factory.mktemp("stages") / "cells.csv"
    frame.to_csv(path, index=False)
    return path


def test_cli_scores_k_stage_networks_that_recompute_from_the_json(table_csv, frame, tmp_path, capsys):
    out = tmp_path / "bench.json"
    rc = main(["bench-table", "--table", str(table_csv), "--stages", "3", "--objective", "acc:max",
               "--objective", "lat:min", "--stage-columns", "lat=onnx_latency_ms,litert_latency_ms,tm_latency_ms",
               "--strategy", "evolution", "--budget", "60", "--seeds", "2", "--json", str(out)])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "3-stage networks of cells.csv" in printed and "evolution" in printed and "random" in printed
    data = json.loads(out.read_text())
    space = get_space("nb201_stages", stages=3)
    objectives = [Objective("acc", "max"), Objective("lat", "min")]
    scorer = StageScorer(StageTableEvaluator(frame, space, columns=["acc", "lat"], stage_columns={
        "lat": ["onnx_latency_ms", "litert_latency_ms", "tm_latency_ms"]}), objectives)
    assert data["scoring"]["reference"] == pytest.approx(list(scorer.ref))
    assert data["scoring"]["true_front_size"] == len(scorer.true_front)
    for name in ("evolution", "random"):
        r = data[name]
        for ratio, archs in zip(r["50"], r["evaluated"]):
            assert len(archs) == 60 and len(set(archs)) == 60
            assert all(len(a.split(";")) == 3 for a in archs)
            assert ratio == pytest.approx(scorer.ratio(archs[:50]))
            assert 0.0 < ratio < 1.0


def _fails(capsys, argv) -> str:
    assert main(argv) == 2
    return capsys.readouterr().err


def test_bad_input_is_named(table_csv, frame, tmp_path, capsys):
    base = ["bench-table", "--table", str(table_csv), "--objective", "acc:max", "--budget", "5", "--seeds", "1"]
    lat = ["--objective", "lat:min"]
    assert "--stages must be an integer >= 1, got 0" in _fails(capsys, base + lat + ["--stages", "0"])
    err = _fails(capsys, base + lat + ["--stages", "2", "--stage-columns", "lat=onnx_latency_ms,nope"])
    assert "'nope'" in err
    err = _fails(capsys, base + lat + ["--stages", "2", "--stage-columns", "lat=onnx_latency_ms,label"])
    assert "column 'label' must be numeric" in err
    err = _fails(capsys, base + lat + ["--stages", "3", "--stage-columns", "lat=onnx_latency_ms,tm_latency_ms"])
    assert "one column per stage (3)" in err
    assert "needs --stages" in _fails(capsys, base + lat + ["--stage-columns", "lat=a,b"])
    assert "--space must be nb201" in _fails(capsys, base + lat + ["--stages", "2", "--space", "mobilenet"])
    gone = frame["arch"][frame["arch"].str.count("none") == 0].iloc[:2].tolist()
    partial = tmp_path / "partial.csv"
    frame[~frame["arch"].isin(gone)].to_csv(partial, index=False)
    err = _fails(capsys, ["bench-table", "--table", str(partial), "--objective", "acc:max", "--objective",
                          "onnx_latency_ms:min", "--stages", "2", "--budget", "5", "--seeds", "1"])
    assert "2 cell(s)" in err and gone[0] in err


def test_stage_columns_text_and_checkpoints():
    assert parse_stage_columns(["lat=a, b ,c", "e=x,y,z"]) == {"lat": ["a", "b", "c"], "e": ["x", "y", "z"]}
    for bad in (["lat"], ["=a,b"], ["lat=a,,b"], ["lat=a", "lat=b"]):
        with pytest.raises(ConfigError, match="--stage-columns"):
            parse_stage_columns(bad)
    assert checkpoints_for(300) == [50, 100, 300]
    assert checkpoints_for(1000) == [50, 100, 300, 1000]
