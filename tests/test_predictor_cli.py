"""``hwnas predictor fit`` / ``hwnas predictor eval`` on a small synthetic measurement table."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from hwnas.cli.main import main
from hwnas.costs.latency.predictor import LatencyPredictor, PredictorCostModel
from hwnas.spaces.nb201 import NB201Space

SPACE = NB201Space()


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    rng = np.random.default_rng(0)
    genes = SPACE.sample_genes(rng, 300)
    canon = SPACE.canonical_genes(genes)
    fast = np.array([0.0, 0.05, 0.5, 2.5, 0.3])[canon].sum(axis=1) + 1.0
    slow = np.array([0.0, 0.3, 1.5, 6.0, 1.0])[canon].sum(axis=1) + 0.4
    frame = pd.DataFrame({
        "arch": [SPACE.format(SPACE.from_genes(g)) for g in genes],
        "fast_ms": fast * np.exp(rng.normal(0, 0.02, len(genes))),
        "slow_ms": slow * np.exp(rng.normal(0, 0.02, len(genes))),
    })
    path = tmp_path_factory.mktemp("cli") / "measured.csv"
    frame.to_csv(path, index=False)
    return path, frame


def test_fit_then_cost(table, tmp_path):
    path, frame = table
    out = tmp_path / "model.json"
    assert main(["predictor", "fit", "--table", str(path), "--target", "fast_ms", "--train-size", "40",
                 "--members", "3", "--out", str(out)]) == 0
    pred = LatencyPredictor.load(out)
    assert pred.n_train == 40 and pred.target == "fast_ms" and pred.unit == "ms"
    costs = PredictorCostModel(path=out).cost_arch(frame.arch[0])
    assert costs["fast_ms"] == pytest.approx(frame.fast_ms[0], rel=0.1)


def test_eval_writes_per_seed_scores(table, tmp_path):
    path, _ = table
    out = tmp_path / "scores.json"
    assert main(["predictor", "eval", "--table", str(path), "--target", "slow_ms", "--train-size", "20",
                 "--seeds", "3", "--members", "2", "--json", str(out)]) == 0
    scores = json.loads(out.read_text())
    assert len(scores["kendall_tau"]) == 3 and len(scores["within_10pct"]) == 3
    assert min(scores["kendall_tau"]) > 0.8 and min(scores["within_10pct"]) > 0.7


def test_eval_with_transfer(table, tmp_path):
    path, _ = table
    out = tmp_path / "transfer.json"
    assert main(["predictor", "eval", "--table", str(path), "--target", "slow_ms", "--train-size", "20",
                 "--seeds", "2", "--members", "2", "--transfer-from", "fast_ms", "--transfer-size", "8",
                 "--json", str(out)]) == 0
    scores = json.loads(out.read_text())
    assert len(scores["kendall_tau"]) == 2 and min(scores["kendall_tau"]) > 0.8


def test_bad_input_names_the_row_or_column(table, tmp_path, capsys):
    path, frame = table
    assert main(["predictor", "eval", "--table", str(path), "--target", "nope", "--train-size", "20"]) == 2
    assert "no column 'nope'" in capsys.readouterr().err
    broken = frame.astype({"fast_ms": object})
    broken.loc[2, "arch"] = "|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|"
    broken.loc[4, "fast_ms"] = "fast"
    bad = tmp_path / "bad.csv"
    broken.to_csv(bad, index=False)
    assert main(["predictor", "fit", "--table", str(bad), "--target", "fast_ms", "--out", str(tmp_path / "m.json")]) == 2
    assert "row 3 (line 4)" in capsys.readouterr().err
    broken.loc[2, "arch"] = frame.arch[2]
    broken.to_csv(bad, index=False)
    assert main(["predictor", "fit", "--table", str(bad), "--target", "fast_ms", "--out", str(tmp_path / "m.json")]) == 2
    err = capsys.readouterr().err
    assert "column 'fast_ms'" in err and "row 5 (line 6)" in err
    assert main(["predictor", "eval", "--table", str(path), "--target", "fast_ms", "--train-size", "300"]) == 2
    assert "train size 300" in capsys.readouterr().err
    assert main(["predictor", "eval", "--table", str(path), "--target", "fast_ms", "--train-size", "20",
                 "--transfer-size", "5"]) == 2
    assert "--transfer-size needs --transfer-from" in capsys.readouterr().err


def test_fit_with_a_fixed_view_and_protocol(table, tmp_path):
    path, _ = table
    out = tmp_path / "fixed.json"
    assert main(["predictor", "fit", "--table", str(path), "--target", "fast_ms", "--train-size", "40",
                 "--members", "2", "--view", "executed", "--representative", "own", "--out", str(out)]) == 0
    pred = LatencyPredictor.load(out)
    assert (pred.view, pred.representative) == ("executed", "own") and "selection" not in pred.provenance
    # by default both are chosen by cross-validation on the rows; the synthetic table prunes dead code
    auto = tmp_path / "auto.json"
    assert main(["predictor", "fit", "--table", str(path), "--target", "fast_ms", "--train-size", "60",
                 "--members", "2", "--out", str(auto)]) == 0
    pred = LatencyPredictor.load(auto)
    assert pred.view.startswith("executed") and len(pred.provenance["selection"]) >= 4
