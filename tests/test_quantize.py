"""Post-training quantization in ONNX Runtime: the quantizer, the PTQ evaluator, sizes, latency of the deployed bytes."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch

from hwnas.compress.ptq import Calibration, calibration_inputs, quantize_onnx
from hwnas.core.errors import DataError, EvaluationFailed
from hwnas.core.objectives import Objective
from hwnas.costs.measure import LatencyCache, measure_latency
from hwnas.costs.size import SizeModel
from hwnas.data.base import from_arrays
from hwnas.evaluators.quantized import PTQEvaluator
from hwnas.evaluators.supernet import SupernetEvaluator
from hwnas.export.onnx import ort_predict, ort_session, to_onnx_bytes
from hwnas.spaces.quantized import QuantizedSpace
from hwnas.spaces.signal1d import Signal1DSpace


def space():
    return Signal1DSpace(input_shape=(1, 32), num_classes=3, max_conv=2, conv_channels=(8, 16), conv_kernels=(3,),
                         max_fc=1, fc_widths=(32, 64))


def task(n=240, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    x = rng.standard_normal((n, 1, 32)).astype(np.float32) * 0.3
    x[:, 0, :8] += y[:, None]  # learnable from the first samples
    return from_arrays("toy", x, y)


def weight_inputs(model: bytes) -> dict[str, list[str]]:
    """Conv / Gemm node -> op types producing its inputs (DequantizeLinear when quantized)."""
    g = onnx.load_from_string(model).graph
    producer = {o: n.op_type for n in g.node for o in n.output}
    return {n.name: [producer.get(i, "initializer") for i in n.input] for n in g.node if n.op_type in ("Conv", "Gemm")}


def test_static_qdq_quantizes_all_but_the_fp32_blocks():
    q = QuantizedSpace(space())
    base = q.base.largest()
    arch = q.with_policy(base, {"conv1": "fp32", "conv2": "int8", "fc1": "int8", "classifier": "int8"})
    module = q.build(arch)
    fp32 = to_onnx_bytes(module, (1, 1, 32))
    calib = np.random.default_rng(0).standard_normal((64, 1, 32)).astype(np.float32)
    int8 = quantize_onnx(fp32, calib, q.fp32_children(arch), Calibration("percentile", 64))
    nodes = weight_inputs(int8)
    assert "DequantizeLinear" not in nodes["/0/Conv"][:2]  # conv1 kept in fp32: float input and weight
    assert nodes["/3/Conv"][1] == "DequantizeLinear" and nodes["/7/Gemm"][1] == "DequantizeLinear"
    all_int8 = quantize_onnx(fp32, calib, set(), Calibration("entropy", 64))
    assert len(all_int8) * 2 < len(fp32)  # int8 weights: the file shrinks (graph overhead aside, 4x)
    x = torch.from_numpy(calib[:16])
    with torch.no_grad():
        ref = module(x).numpy()
    err = np.abs(ort_predict(ort_session(all_int8), x) - ref).max()
    assert 0 < err < 0.1 * np.abs(ref).max()  # quantized: close to fp32, not identical


def test_calibration_set_errors_name_split_and_shapes():
    with pytest.raises(DataError, match=r"'train' split is empty.*\[1, 32\]"):
        calibration_inputs(np.zeros((0, 1, 32), np.float32), (1, 32), 16)
    with pytest.raises(DataError, match=r"'train' split holds samples of shape \[1, 40\], the model takes \[1, 32\]"):
        calibration_inputs(np.zeros((10, 1, 40), np.float32), (1, 32), 16)
    got = calibration_inputs(np.arange(50, dtype=np.float32).reshape(50, 1, 1), (1, 1), 8)
    assert got.shape == (8, 1, 1) and len(np.unique(got)) == 8


def ptq_evaluator(max_drop=2.0, data=None, samples=64):
    base = space()
    data = data or task()
    torch.manual_seed(0)
    net = base.build_supernet()
    inner = SupernetEvaluator(net, data, split="val", calib_samples=64)
    q = QuantizedSpace(base)
    ev = PTQEvaluator(inner, q, Calibration("minmax", samples), max_drop)
    ev.bind(q)
    return q, ev, data


def test_ptq_evaluator_scores_the_quantized_model_in_onnxruntime():
    q, ev, data = ptq_evaluator(max_drop=100.0)
    arch = q.with_policy(q.base.largest(), "int8")
    m = ev.evaluate(arch)
    out = ort_predict(ort_session(ev.deployable(arch)), data.x_val)
    assert m["accuracy"] == pytest.approx(100.0 * float((out.argmax(-1) == data.y_val.numpy()).mean()))
    fp32 = q.with_policy(q.base.largest(), "fp32")
    f = ev.evaluate(fp32)
    assert f["accuracy"] == pytest.approx(f["float_accuracy"])  # fp32 in ORT scores as in PyTorch
    assert m["float_accuracy"] == pytest.approx(f["float_accuracy"])
    assert m["onnx_kb"] < f["onnx_kb"] / 2


def test_a_policy_that_loses_too_much_or_cannot_load_fails_with_the_reason(monkeypatch):
    q, ev, _ = ptq_evaluator(max_drop=0.5)
    arch = q.with_policy(q.base.largest(), "int8")
    import hwnas.evaluators.quantized as mod

    monkeypatch.setattr(mod, "scores", lambda *a, **k: {"accuracy": 100.0, "soft_accuracy": 100.0})
    with pytest.raises(EvaluationFailed, match=r"loses .* points on the 'val' split .*max_accuracy_drop 0.5"):
        ev.evaluate(arch)
    monkeypatch.undo()
    q2, ev2, _ = ptq_evaluator()
    monkeypatch.setattr(q2, "deployable", lambda *a, **k: b"not an onnx model")
    with pytest.raises(EvaluationFailed, match="ONNX Runtime cannot load"):
        ev2.evaluate(q2.with_policy(q2.base.largest(), "int8"))


def test_failed_quantized_evaluations_are_recorded_and_the_search_goes_on(monkeypatch):
    from hwnas.evaluators.base import CombinedEvaluator
    from hwnas.evaluators.cost import CostEvaluator
    from hwnas.strategies import get_strategy
    from hwnas.study import Study

    q, ev, _ = ptq_evaluator(max_drop=100.0)
    real = q.deployable

    def flaky(arch, *a, **k):  # every policy that quantizes conv1 "crashes" the quantizer
        if q.policy(arch).get("conv1") == "int8":
            raise DataError("ONNX Runtime could not quantize the model: boom")
        return real(arch, *a, **k)

    monkeypatch.setattr(q, "deployable", flaky)
    study = Study(q, CombinedEvaluator([ev, CostEvaluator(SizeModel())]),
                  [Objective.parse("accuracy:max"), Objective.parse("size_kb:min")], get_strategy("random"), seed=0)
    study.optimize(12)
    failed = [t for t in study.trials if not t.ok]
    assert study.n_evaluated == 12 and failed and len(failed) < 12
    assert all("conv1=int8" in t.error and "boom" in t.error for t in failed)


def test_size_model_reads_bit_widths():
    q = QuantizedSpace(space())
    base = q.base.largest()
    m = SizeModel()
    int8 = m.cost(q.workload(q.with_policy(base, "int8")))["size_kb"]
    fp32 = m.cost(q.workload(q.with_policy(base, "fp32")))["size_kb"]
    params = sum(lay.params for lay in q.layers(q.with_policy(base, "fp32")) if lay.op in ("conv", "linear"))
    assert fp32 * 1024 >= 4 * params and 3.5 < fp32 / int8 < 4.0  # biases stay 32-bit


def test_latency_of_deployed_bytes_is_cached_per_model_and_policy(tmp_path):
    q = QuantizedSpace(space())
    base = q.base.largest()
    cache = LatencyCache(tmp_path / "lat.json")
    w8, w32 = q.workload(q.with_policy(base, "int8")), q.workload(q.with_policy(base, "fp32"))
    assert w8.build() == w8.build()  # the same policy builds the same bytes: one cache entry
    a = measure_latency(w8.build(), w8.input_shape, repeats=5, warmup=1, cache=cache)
    b = measure_latency(w8.build(), w8.input_shape, repeats=5, warmup=1, cache=cache)
    c = measure_latency(w32.build(), w32.input_shape, repeats=5, warmup=1, cache=cache)
    assert not a.cached and b.cached and b.latency_ms == a.latency_ms and not c.cached
