"""``hwnas pick`` / ``hwnas.pick``: the best front member within bounds, its model copied; bad input named.

Most tests use hand-written fronts (so the expected choice is known); one runs a tiny train-once
search and picks from its real front through the CLI.
"""

import csv
import json
from pathlib import Path

import pytest

import hwnas
from hwnas.cli.main import main
from hwnas.core.errors import ConfigError, DataError

ROWS = [  # a train-once front, cheapest first, as front.csv lists it
    {"arch": "a", "accuracy": 90.0, "latency_ms": 0.02, "macs": 1000, "params": 50, "model": "models/00_a.onnx",
     "val_accuracy": 91.0},
    {"arch": "b", "accuracy": 95.0, "latency_ms": 0.04, "macs": 3000, "params": 90, "model": "models/01_b.onnx",
     "val_accuracy": 94.0},
    {"arch": "c", "accuracy": 97.0, "latency_ms": 0.06, "macs": 9000, "params": 200, "model": "models/02_c.onnx",
     "val_accuracy": 93.5},
    {"arch": "d", "accuracy": 96.0, "latency_ms": 0.09, "macs": 20000, "params": 400, "model": "models/03_d.onnx",
     "val_accuracy": 96.0},
]


def _front(folder: Path, rows=ROWS, info: dict | None = None) -> Path:
    (folder / "models").mkdir(parents=True, exist_ok=True)
    with open(folder / "front.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    for r in rows:
        if r.get("model"):
            (folder / r["model"]).write_bytes(f"model {r['arch']}".encode())
    if info is not None:
        (folder / "front.json").write_text(json.dumps(info))
    return folder


def test_default_metric_is_the_searched_quality_within_the_budget(tmp_path):
    _front(tmp_path, info={"selected_on": ["val_accuracy:max", "latency_ms:min"]})
    assert hwnas.pick(tmp_path).row["arch"] == "d"  # best val_accuracy overall
    chosen = hwnas.pick(tmp_path, max={"latency_ms": 0.07})
    assert chosen.by == "val_accuracy" and chosen.direction == "max" and chosen.row["arch"] == "b"
    assert chosen.model == tmp_path / "models/01_b.onnx"
    # any metric to rank by, several bounds of both kinds
    assert hwnas.pick(tmp_path, max={"latency_ms": 0.07}, by="accuracy").row["arch"] == "c"
    assert hwnas.pick(tmp_path, min={"accuracy": 95}, by="latency_ms").row["arch"] == "b"  # a cost: minimised
    assert hwnas.pick(tmp_path, min={"accuracy": 95.5}, max={"params": 300}, by="macs").row["arch"] == "c"
    assert hwnas.pick(tmp_path, max={"latency_ms": 0.04}).row["arch"] == "b"  # the bound is inclusive


def test_without_front_json_directions_come_from_names(tmp_path):
    rows = [{"number": 3, "arch": "x", "state": "complete", "cifar10_acc": 80.0, "pi5_latency_ms": 3.0, "error": ""},
            {"number": 7, "arch": "y", "state": "complete", "cifar10_acc": 85.0, "pi5_latency_ms": 5.0, "error": ""}]
    _front(tmp_path, rows)  # a table search's front.csv: no model, no front.json
    assert hwnas.pick(tmp_path).row["arch"] == "y"
    assert hwnas.pick(tmp_path, by="pi5_latency_ms").row["arch"] == "x"
    with pytest.raises(DataError, match="names no model file for y"):
        hwnas.pick(tmp_path, copy_to=tmp_path / "m.onnx")


def test_copy_to_a_file_or_a_folder_and_never_over_another_file(tmp_path):
    _front(tmp_path / "run")
    chosen = hwnas.pick(tmp_path / "run", max={"latency_ms": 0.05}, copy_to=tmp_path / "deploy" / "net.onnx")
    assert chosen.copied == tmp_path / "deploy" / "net.onnx"
    assert chosen.copied.read_bytes() == b"model b"
    (tmp_path / "folder").mkdir()
    chosen = hwnas.pick(tmp_path / "run", copy_to=tmp_path / "folder")  # no front.json: the first quality column
    assert chosen.by == "accuracy"
    assert chosen.copied == tmp_path / "folder" / "02_c.onnx" and chosen.copied.read_bytes() == b"model c"
    with pytest.raises(DataError, match="net.onnx exists and is another file"):
        hwnas.pick(tmp_path / "run", copy_to=tmp_path / "deploy" / "net.onnx")
    assert (tmp_path / "deploy" / "net.onnx").read_bytes() == b"model b"


def test_a_budget_nobody_meets_names_the_closest_member_and_its_value(tmp_path):
    _front(tmp_path)
    with pytest.raises(DataError, match=r"meets latency_ms <= 0.01; the closest is models/00_a.onnx \(a\) "
                                        r"with latency_ms 0.02"):
        hwnas.pick(tmp_path, max={"latency_ms": 0.01})
    # several bounds: distance relative to each bound (b misses accuracy by 2 %, c latency by 20 %)
    with pytest.raises(DataError, match=r"the closest is models/01_b.onnx \(b\) with latency_ms 0.04, accuracy 95"):
        hwnas.pick(tmp_path, max={"latency_ms": 0.05}, min={"accuracy": 97})
    with pytest.raises(DataError, match=r"the closest is models/02_c.onnx \(c\) with latency_ms 0.06, accuracy 97"):
        hwnas.pick(tmp_path, max={"latency_ms": 0.059}, min={"accuracy": 99})


def test_bad_metrics_and_bounds_are_named(tmp_path, capsys):
    _front(tmp_path)
    with pytest.raises(ConfigError, match=r"metric 'latency' is not in .*front.csv; its metrics: "
                                          r"\['accuracy', 'latency_ms', 'macs', 'params', 'val_accuracy'\]"):
        hwnas.pick(tmp_path, max={"latency": 1})
    with pytest.raises(ConfigError, match="metric 'top1'"):
        hwnas.pick(tmp_path, by="top1")
    with pytest.raises(ConfigError, match="max bound of 'latency_ms': 'fast' is not a number"):
        hwnas.pick(tmp_path, max={"latency_ms": "fast"})
    assert main(["pick", "--out", str(tmp_path), "--max", "latency_ms"]) == 2
    assert "--max 'latency_ms': write METRIC=VALUE" in capsys.readouterr().err
    assert main(["pick", "--out", str(tmp_path), "--min", "accuracy=high"]) == 2
    assert "'high' is not a number" in capsys.readouterr().err
    assert main(["pick", "--out", str(tmp_path / "nowhere")]) == 2
    assert "nowhere/front.csv not found" in capsys.readouterr().err


def test_another_study_is_read_from_its_folder(tmp_path):
    _front(tmp_path / "fast", ROWS[:2])
    with pytest.raises(DataError, match=r"front.csv not found; studies with a front in this folder: \['fast'\]"):
        hwnas.pick(tmp_path)
    assert hwnas.pick(tmp_path, study="fast").row["arch"] == "b"


def test_cli_picks_from_a_real_front_and_copies_its_model(tmp_path, capsys):
    from test_deploy_metadata import TINY

    from hwnas.export.metadata import read_metadata

    out = tmp_path / "out"
    hwnas.run(TINY, out)
    with open(out / "front.csv") as f:
        rows = list(csv.DictReader(f))
    budget = sorted(float(r["latency_ms"]) for r in rows)[(len(rows) - 1) // 2]
    inside = [r for r in rows if float(r["latency_ms"]) <= budget]
    best = max(inside, key=lambda r: float(r["val_accuracy"]))
    assert main(["pick", "--out", str(out), "--max", f"latency_ms={budget!r}", "--copy", str(tmp_path / "m.onnx"),
                 "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["arch"] == best["arch"] and printed["by"] == "val_accuracy"
    assert (tmp_path / "m.onnx").read_bytes() == (out / best["model"]).read_bytes()
    assert read_metadata(tmp_path / "m.onnx")["architecture"] == best["arch"]
    assert main(["pick", "--out", str(out), "--max", "latency_ms=1e-9"]) == 2
    assert "the closest is " + rows[0]["model"] in capsys.readouterr().err
