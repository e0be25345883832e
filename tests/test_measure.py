"""Measured latency: both runtimes, repeatability, the pinned reference scale, ONNX files, the per-device
cache, the cost model."""

import json

import numpy as np
import pytest
import torch

from hwnas.core.errors import CostModelError
from hwnas.costs.measure import cache as cache_mod
from hwnas.costs.measure import timer
from hwnas.costs.measure.cache import LatencyCache, reference_latency
from hwnas.costs.measure.fingerprint import device_fingerprint
from hwnas.costs.measure.model import MeasuredLatency, measure_latency
from hwnas.export.onnx import export_onnx
from hwnas.spaces.signal1d import Signal1DSpace

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def own_cache(tmp_path_factory, monkeypatch):
    """A cache folder for this module, so the reference is pinned there, not in the user's cache."""
    monkeypatch.setenv("HWNAS_CACHE", str(tmp_path_factory.getbasetemp() / "hwnas_cache"))


def _small():
    return torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU())


@pytest.mark.parametrize("runtime", ["onnxruntime", "torch"])
def test_measure_single_layer_module(runtime):
    r = measure_latency(_small(), (1, 1, 8, 8), runtime=runtime, threads=1, warmup=2, repeats=20)
    assert r.latency_ms > 0 and r.median_ms > 0 and r.iqr_ms >= 0 and r.cv >= 0
    assert r.repeats == 20 and r.threads == 1 and r.runtime == runtime and r.number >= 1
    assert r.device == device_fingerprint() and r.device["cores"] >= 1 and r.device["cpu"]
    assert r.reference_ms == reference_latency(1) > 0
    # a block lasts about block_ms: a sub-millisecond model runs several times per block
    assert r.number * r.latency_ms == pytest.approx(0.25, rel=0.8) or r.number == 1


def test_repeated_measurements_agree_and_order_models():
    """Five measurements of one model agree (CV bar 5 %; 15 % here, loose for a loaded CI machine), and
    a model with ~100x the work measures clearly slower."""
    space = Signal1DSpace()
    module = space.build(space.largest())
    lat = np.array([measure_latency(module, (1, *space.input_shape), repeats=100).latency_ms for _ in range(5)])
    assert lat.std() / lat.mean() < 0.15, lat
    tiny = measure_latency(torch.nn.ReLU(), (1, 4), repeats=50).latency_ms
    big = measure_latency(torch.nn.Conv2d(32, 32, 3, padding=1), (1, 32, 32, 32), repeats=20).latency_ms
    assert big > 5 * tiny > 0


def test_reference_is_pinned_per_device_and_sets_the_scale(tmp_path, monkeypatch):
    monkeypatch.setenv("HWNAS_CACHE", str(tmp_path))
    ms = reference_latency(1)
    data = json.loads((tmp_path / "latency.json").read_text())
    (entry,) = data.values()
    assert entry["reference_ms"] == {f"1@{timer.TIMER}": ms} and entry["device"] == device_fingerprint()
    # a pinned value is what later processes use: rewrite it, forget this process's memo, read it back
    entry["reference_ms"][f"1@{timer.TIMER}"] = 2 * ms
    (tmp_path / "latency.json").write_text(json.dumps(data))
    cache_mod._PINNED.clear()
    assert reference_latency(1) == 2 * ms
    # the scale multiplies the measured ratio: with the timing fixed (two real measurements differ by up to
    # ~30 % on a loaded CI machine), the same blocks on twice the scale give exactly twice the latency
    t, r = np.full(40, 3e-5), np.full(40, 1e-5)
    ok = np.ones(40, bool)
    monkeypatch.setattr(timer, "_time_rounds", lambda *a, **k: (t, r, ok, ok, 7, 1))
    a = measure_latency(_small(), (1, 1, 8, 8), repeats=40, reference_ms=1.0)
    b = measure_latency(_small(), (1, 1, 8, 8), repeats=40, reference_ms=2.0)
    assert a.latency_ms == pytest.approx(3.0) and b.latency_ms == pytest.approx(6.0)
    assert (a.reference_ms, b.reference_ms, a.number) == (1.0, 2.0, 7) and b.median_ms == pytest.approx(6.0)


def test_cache_never_measures_the_same_model_twice(tmp_path):
    cache = LatencyCache(tmp_path / "lat.json")
    first = measure_latency(_small(), (1, 1, 8, 8), repeats=5, warmup=1, cache=cache)
    assert not first.cached
    other_weights = _small()  # same structure, new random weights: same latency key
    second = measure_latency(other_weights, (1, 1, 8, 8), repeats=5, warmup=1, cache=cache)
    assert second.cached and second.latency_ms == first.latency_ms
    reread = LatencyCache(tmp_path / "lat.json")
    assert len(reread) == 1
    data = json.loads((tmp_path / "lat.json").read_text())
    (entry,) = data.values()
    assert entry["device"]["cpu"] == device_fingerprint()["cpu"]
    third = measure_latency(_small(), (1, 1, 8, 8), threads=2, repeats=5, warmup=1, cache=cache)
    assert not third.cached  # thread count is part of the key
    # a cached result asked for on another scale is converted exactly
    fourth = measure_latency(_small(), (1, 1, 8, 8), repeats=5, cache=cache, reference_ms=3 * first.reference_ms)
    assert fourth.cached and fourth.latency_ms == pytest.approx(3 * first.latency_ms)
    # entries of another layout (an older timer's) are measured again, not misread
    key = next(iter(entry["results"]))
    entry["results"][key] = {"median_ms": 1.0, "iqr_ms": 0.1}
    (tmp_path / "lat.json").write_text(json.dumps(data))
    assert not measure_latency(_small(), (1, 1, 8, 8), repeats=5, cache=LatencyCache(tmp_path / "lat.json")).cached


def test_onnx_file_and_cost_model(tmp_path):
    path = export_onnx(_small().eval(), (1, 1, 8, 8), tmp_path / "m.onnx").path
    r = measure_latency(path, (1, 1, 8, 8), repeats=5, warmup=1)
    assert r.latency_ms > 0
    space = Signal1DSpace(conv_channels=(4,), fc_widths=(8,))
    model = MeasuredLatency(repeats=5, warmup=1, cache=LatencyCache(tmp_path / "c.json"))
    assert model.name == "measure" and model.units["latency_ms"] == "ms"
    out = model.cost(space.workload(space.largest()))
    assert out["latency_ms"] > 0 and out["latency_iqr_ms"] >= 0
    assert model.describe()["timer"] == timer.TIMER


def test_bad_input():
    with pytest.raises(CostModelError, match="allowed"):
        measure_latency(_small(), (1, 1, 8, 8), runtime="tensorrt")
    with pytest.raises(CostModelError, match="does not exist"):
        measure_latency("/nonexistent.onnx", (1, 1, 8, 8))
    with pytest.raises(CostModelError, match="torch"):
        measure_latency(__file__, (1, 1, 8, 8), runtime="torch")
    with pytest.raises(CostModelError, match="block_ms"):
        measure_latency(_small(), (1, 1, 8, 8), block_ms=0)


def test_package_exports_the_public_names_and_the_registry_finds_the_cost_model():
    import hwnas.costs.measure as pkg
    from hwnas.costs.measure import cache, fingerprint, model
    from hwnas.costs.registry import COST_MODELS

    assert pkg.MeasuredLatency is model.MeasuredLatency and pkg.LatencyCache is cache.LatencyCache
    assert pkg.device_fingerprint is fingerprint.device_fingerprint and pkg.TIMER == timer.TIMER
    assert isinstance(COST_MODELS.create("measure", threads=1), model.MeasuredLatency)
