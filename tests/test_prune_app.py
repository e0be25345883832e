"""The post-search pruning step of the train-once job: chosen front members pruned, fine-tuned, re-measured,
exported and added to front.csv with a ``pruned`` column; its config refusals."""

import csv
import json

import pytest
import yaml

import hwnas
from hwnas.app.config import load_config
from hwnas.app.prune import chosen_members
from hwnas.core.errors import ConfigError
from hwnas.data import get_dataset
from hwnas.export.onnx import onnx_accuracy

TINY = {
    "data": {"name": "digits"},
    "space": {"name": "mobilenet",
              "options": {"stem": 8, "stages": [[8, 2, 2], [12, 1, 2]], "head": 16, "widths": [0.5, 1.0]}},
    "supernet": {"training": {"epochs": 2, "batch_size": 128, "lr": 0.01, "sandwich_random": 1}},
    "evaluator": {"name": "supernet", "options": {"calib_samples": 256}},
    "targets": [{"name": "measure", "options": {"repeats": 3, "warmup": 1, "cache": "lat.json"}},
                {"name": "count", "options": {"precisions": ["fp32"]}}],
    "study": {"budget": 4},
    "strategy": {"name": "random"},
    "export": {"plot": False},
    "threads": 1,
    # channels counts of 8 and 12: rounding to the default 16 would keep every group whole
    "compress": {"prune": {"ratio": 0.5, "members": [0], "epochs": 1, "repeats": 5, "round_to": None}},
}


def test_a_pruned_member_is_added_to_the_front(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(TINY))
    out = tmp_path / "out"
    hwnas.run(path, out)
    with open(out / "front.csv") as f:
        rows = list(csv.DictReader(f))
    pruned = [r for r in rows if float(r["pruned"]) == 0.5]
    searched = [r for r in rows if float(r["pruned"]) == 0.0]
    assert len(pruned) == 1 and searched
    p, source = pruned[0], searched[0]
    assert p["arch"] == source["arch"] and p["model"] != source["model"]
    assert int(p["params"]) < 0.6 * int(source["params"]) and int(p["macs"]) < 0.6 * int(source["macs"])
    assert float(p["latency_ms"]) > 0
    x, y = get_dataset("digits").split("test")
    assert abs(onnx_accuracy(out / p["model"], x, y) - float(p["accuracy"])) <= 0.5
    info = json.loads((out / "front.json").read_text())
    assert len(info["rows"]) == len(rows) and info["pruned"]["ratio"] == 0.5


def test_members_and_ratios_are_checked():
    assert chosen_members("all", 3) == [0, 1, 2] and chosen_members([2, 0, 2], 3) == [2, 0]
    with pytest.raises(ConfigError, match=r"compress.prune.members: \[5\] outside the front's rows 0..2"):
        chosen_members([5], 3)
    with pytest.raises(ConfigError, match="compress.prune.ratio"):
        load_config({"supernet": {}, "compress": {"prune": {"ratio": 1.5}}})
    with pytest.raises(ConfigError, match="compress.prune.members"):
        load_config({"supernet": {}, "compress": {"prune": {"members": "some"}}})
    with pytest.raises(ConfigError, match="compress.prune.round_to"):
        load_config({"supernet": {}, "compress": {"prune": {"round_to": 0}}})
    assert load_config({"supernet": {}, "compress": {"prune": {}}}).compress.prune.round_to == 16
    with pytest.raises(ConfigError, match="compress.prune: pruning front members needs the train-once job"):
        load_config({"compress": {"prune": {}}, "space": "nb201", "objectives": ["accuracy:max"]})
