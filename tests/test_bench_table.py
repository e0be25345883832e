"""``hwnas bench-table``: runs a strategy and random search on the same seeds, prints and writes scores."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hwnas.app.bench_table import checkpoints_for, run_strategy
from hwnas.cli.main import main
from hwnas.core.objectives import Objective
from hwnas.spaces.nb201 import NB201Space
from hwnas.strategies.scoring import TableScorer


@pytest.fixture(scope="module")
def table_csv(tmp_path_factory, synthetic_nb201_table):
    path = tmp_path_factory.mktemp("bench") / "table.csv"
    synthetic_nb201_table.to_csv(path, index=False)
    return path


def test_cli_writes_scores_that_recompute_from_the_architectures(table_csv, tmp_path, capsys, synthetic_nb201_table):
    out = tmp_path / "bench.json"
    rc = main(["bench-table", "--table", str(table_csv), "--objective", "acc:max", "--objective", "lat_ms:min",
               "--strategy", "evolution", "--budget", "60", "--seeds", "2", "--json", str(out)])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "N=50" in printed and "N=100" not in printed  # checkpoints above the budget are omitted
    assert "evolution" in printed and "random" in printed
    data = json.loads(out.read_text())
    assert data["default"] == "evolution"
    scorer = TableScorer(synthetic_nb201_table, [Objective("acc", "max"), Objective("lat_ms", "min")])
    for name in ("evolution", "random"):
        r = data[name]
        assert len(r["50"]) == 2 and len(r["evaluated"]) == 2
        for ratio, archs in zip(r["50"], r["evaluated"]):
            assert len(archs) == 60 and len(set(archs)) == 60
            assert 0.0 <= ratio <= 1.0
            assert ratio == pytest.approx(scorer.ratio(archs[:50]))
    # same seeds, different strategies: different evaluation orders
    assert data["evolution"]["evaluated"][0] != data["random"]["evaluated"][0]


def test_cli_errors(table_csv, capsys):
    assert main(["bench-table", "--table", str(table_csv), "--objective", "nope:max", "--budget", "5",
                 "--seeds", "1"]) == 2
    assert "nope" in capsys.readouterr().err
    assert main(["bench-table", "--table", str(table_csv), "--objective", "acc:max", "--strategy", "zzz"]) == 2
    assert "zzz" in capsys.readouterr().err
    assert main(["bench-table", "--table", str(table_csv.parent / "missing.csv"), "--objective", "acc:max"]) == 2
    assert "not found" in capsys.readouterr().err


def test_checkpoints():
    assert checkpoints_for(300) == [50, 100, 300]
    assert checkpoints_for(120) == [50, 100]
    assert checkpoints_for(20) == [20]


def test_default_strategy_beats_random_on_real_data(nb201_csv):
    import pandas as pd

    frame = pd.read_csv(nb201_csv)
    objectives = [Objective("cifar10_acc", "max"), Objective("pi5_onnx_latency_ms", "min")]
    space = NB201Space()
    got = {name: run_strategy(frame, space, objectives, name, budget=60, seeds=[0, 1])["50"]
           for name in ("linas", "random")}
    assert np.median(got["linas"]) > np.median(got["random"]) + 0.05, got
