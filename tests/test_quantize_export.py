"""The train-once job with a quantization policy: search, quantized export, front.csv columns, never slower than fp32."""

from __future__ import annotations

import csv
import json

import onnx
import pytest

from hwnas.app.config import parse_config
from hwnas.app.quantized_front import never_slower
from hwnas.app.train_once import run_train_once
from hwnas.core.trial import COMPLETE, Trial
from hwnas.data import get_dataset
from hwnas.export.onnx import onnx_accuracy
from hwnas.spaces.quantized import QuantizedSpace
from hwnas.spaces.signal1d import Signal1DSpace

CONFIG = {
    "data": {"name": "digits"},
    "space": {"name": "mobilenet", "options": {"stages": [[8, 2, 1], [12, 2, 1]], "widths": [0.5, 1.0],
                                               "kernels": [3], "expands": [3], "head": 32}},
    "supernet": {"training": {"epochs": 1, "batch_size": 128, "sandwich_random": 0}},
    "compress": {"quantize": {"precisions": ["int8", "fp32"], "calibration": {"samples": 64}}},
    "targets": [{"name": "measure", "options": {"repeats": 4, "warmup": 1}}, {"name": "size"}],
    "objectives": ["accuracy:max", "size_kb:min"],
    "strategy": {"name": "random"},
    "study": {"budget": 5},
    "export": {"plot": False},
}


def test_train_once_exports_the_quantized_models_it_scored(tmp_path):
    out = tmp_path / "run"
    run_train_once(parse_config(json.loads(json.dumps(CONFIG)), "c"), out, quiet=True)
    rows = list(csv.DictReader(open(out / "front.csv")))
    assert rows and {"bits", "size_kb", "onnx_kb", "onnx_accuracy", "accuracy"} <= set(rows[0])
    x, y = get_dataset("digits").split("test")
    for r in rows:
        path = out / r["model"]
        quantized = any(op == "QuantizeLinear" for op in (n.op_type for n in onnx.load(path).graph.node))
        assert quantized == ("int8" in r["bits"])  # the file is the model its policy deploys
        assert abs(onnx_accuracy(path, x, y) - float(r["onnx_accuracy"])) <= 0.1  # reproduced, loaded fresh
        assert float(r["onnx_kb"]) == pytest.approx(path.stat().st_size / 1024, abs=0.01)
        meta = {p.key for p in onnx.load(path).metadata_props}
        assert {"class_names", "input_shape", "metrics"} <= meta


def test_a_member_slower_than_its_fp32_model_is_exported_in_fp32():
    q = QuantizedSpace(Signal1DSpace(input_shape=(1, 16), num_classes=3, max_conv=1, conv_channels=(4,),
                                     conv_kernels=(3,), max_fc=1, fc_widths=(8,)))
    base = q.base.largest()
    slow, fast = q.with_policy(base, "int8"), q.with_policy(base, {"conv1": "int8", "fc1": "fp32",
                                                                   "classifier": "fp32"})
    fp32 = q.with_policy(base, "fp32")

    class Study:
        trials = [Trial(7, q.key(fp32), fp32, COMPLETE, {"accuracy": 90.0, "latency_ms": 0.02})]

    front = [Trial(1, q.key(slow), slow, COMPLETE, {"accuracy": 89.0, "latency_ms": 0.05}),
             Trial(2, q.key(fast), fast, COMPLETE, {"accuracy": 89.5, "latency_ms": 0.01})]
    got = never_slower(front, q, evaluator=None, study=Study())
    assert [t.key for t in got] == [q.key(fp32), q.key(fast)]
    assert "slower than this architecture in fp32" in got[0].note and got[0].metrics["latency_ms"] == 0.02
