"""Measured latency: both runtimes, any small module, ONNX files, the per-device cache, the cost model."""

import json

import pytest
import torch

from hwnas.compress.onnx_export import export_onnx
from hwnas.errors import CostModelError
from hwnas.hardware.measure import LatencyCache, MeasuredLatency, device_fingerprint, measure_latency
from hwnas.spaces.signal1d import Signal1DSpace

torch.set_num_threads(1)


def _small():
    return torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU())


@pytest.mark.parametrize("runtime", ["onnxruntime", "torch"])
def test_measure_single_layer_module(runtime):
    r = measure_latency(_small(), (1, 1, 8, 8), runtime=runtime, threads=1, warmup=2, repeats=5, min_repeat_ms=1)
    assert r.median_ms > 0 and r.iqr_ms >= 0 and r.cv >= 0
    assert r.repeats == 5 and r.threads == 1 and r.runtime == runtime
    assert r.device == device_fingerprint() and r.device["cores"] >= 1 and r.device["cpu"]


def test_cache_never_measures_the_same_model_twice(tmp_path):
    cache = LatencyCache(tmp_path / "lat.json")
    first = measure_latency(_small(), (1, 1, 8, 8), repeats=3, warmup=1, cache=cache, min_repeat_ms=1)
    assert not first.cached
    other_weights = _small()  # same structure, new random weights: same latency key
    second = measure_latency(other_weights, (1, 1, 8, 8), repeats=3, warmup=1, cache=cache, min_repeat_ms=1)
    assert second.cached and second.median_ms == first.median_ms
    reread = LatencyCache(tmp_path / "lat.json")
    assert len(reread) == 1
    data = json.loads((tmp_path / "lat.json").read_text())
    (entry,) = data.values()
    assert entry["device"]["cpu"] == device_fingerprint()["cpu"]
    third = measure_latency(_small(), (1, 1, 8, 8), threads=2, repeats=3, warmup=1, cache=cache, min_repeat_ms=1)
    assert not third.cached  # thread count is part of the key


def test_onnx_file_and_cost_model(tmp_path):
    path = export_onnx(_small().eval(), (1, 1, 8, 8), tmp_path / "m.onnx").path
    r = measure_latency(path, (1, 1, 8, 8), repeats=3, warmup=1, min_repeat_ms=1)
    assert r.median_ms > 0
    space = Signal1DSpace(conv_channels=(4,), fc_widths=(8,))
    model = MeasuredLatency(repeats=3, warmup=1, cache=LatencyCache(tmp_path / "c.json"))
    assert model.name == "measure" and model.units["latency_ms"] == "ms"
    out = model.cost(space.workload(space.largest()))
    assert out["latency_ms"] > 0 and out["latency_iqr_ms"] >= 0


def test_bad_input():
    with pytest.raises(CostModelError, match="allowed"):
        measure_latency(_small(), (1, 1, 8, 8), runtime="tensorrt")
    with pytest.raises(CostModelError, match="does not exist"):
        measure_latency("/nonexistent.onnx", (1, 1, 8, 8))
    with pytest.raises(CostModelError, match="torch"):
        measure_latency(__file__, (1, 1, 8, 8), runtime="torch")
