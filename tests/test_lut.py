"""Latency lookup table: kernel grouping, kernel modules, calibration, JSON, the cost model and CLI errors."""

import json

import numpy as np
import pytest
import torch
from torch import nn

from hwnas.cli import main
from hwnas.errors import ConfigError, CostModelError, DataError
from hwnas.hardware.base import Workload
from hwnas.hardware.layers import Layer
from hwnas.hardware.lut import (
    LatencyTable,
    LookupTableModel,
    build_table,
    group_kernels,
    kernel_key,
    kernel_module,
)
from hwnas.supernet.trace import trace_layers


def _net2d():
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, 2, 1), nn.BatchNorm2d(8), nn.ReLU(),
        nn.Conv2d(8, 8, 5, 1, 2, groups=8), nn.BatchNorm2d(8), nn.Hardswish(),
        nn.Conv2d(8, 16, 1), nn.BatchNorm2d(16), nn.MaxPool2d(2, 2),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10))


def fake_measure(module, shape):
    """Deterministic stand-in for a device: cost grows with input size and weights."""
    n_in = int(np.prod(shape))
    n_par = sum(p.numel() for p in module.parameters())
    return 0.01 + 1e-4 * n_in + 1e-5 * n_par


def test_grouping_follows_runtime_fusion():
    layers = trace_layers(_net2d(), (1, 3, 16, 16))
    groups = [[x.op for x in g] for g in group_kernels(layers)]
    assert groups == [["conv", "bn", "relu"], ["dwconv", "bn", "hswish"], ["conv", "bn"], ["maxpool"], ["gap"],
                      ["linear"]]
    a = [Layer("add", 8, 8, 4, 4), Layer("relu", 8, 8, 4, 4), Layer("relu", 8, 8, 4, 4)]
    assert [len(g) for g in group_kernels(a)] == [2, 1]
    # names do not enter the key; shapes do
    k1 = (Layer("conv", 3, 8, 8, 8, 3, name="x"),)
    assert kernel_key(k1) == kernel_key((Layer("conv", 3, 8, 8, 8, 3, name="y"),))
    assert kernel_key(k1) != kernel_key((Layer("conv", 3, 8, 8, 8, 5),))


@pytest.mark.parametrize("net, shape", [
    (_net2d(), (1, 3, 16, 16)),
    (nn.Sequential(nn.Conv1d(1, 8, 5, 2, 2), nn.BatchNorm1d(8), nn.ReLU(), nn.Conv1d(8, 8, 3, 1, 1, groups=8),
                   nn.AvgPool1d(2, 2), nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(8, 4)), (1, 1, 40)),
])
def test_kernel_modules_compute_the_layer_shapes(net, shape):
    layers = trace_layers(net, shape)
    for kernel in group_kernels(layers):
        module, in_shape = kernel_module(kernel)
        y = module(torch.zeros(in_shape))
        assert y.numel() == kernel[-1].output_elements, [x.op for x in kernel]
    add, shp = kernel_module((Layer("add", 4, 4, 3, 3),))
    assert add(torch.zeros(shp)).shape == (1, 4, 3, 3)


def test_calibration_recovers_the_whole_network_relation():
    rng = np.random.default_rng(0)
    raws, measured = [], []
    for _ in range(14):
        cnt = {"conv": int(rng.integers(5, 20)), "dwconv": int(rng.integers(2, 10)), "gap": 1}
        sums = {"conv": cnt["conv"] * rng.uniform(0.01, 0.03), "dwconv": cnt["dwconv"] * rng.uniform(0.02, 0.05),
                "gap": rng.uniform(0.005, 0.01)}
        raws.append((sums, cnt))
        # a device where isolated 1x1 convs look slower than they run in a network
        measured.append(0.4 * sums["conv"] + 1.1 * sums["dwconv"] + 0.9 * sums["gap"]
                        - 0.002 * sum(cnt.values()) + 0.05)
    t = LatencyTable()
    t.fit(raws, measured)
    cal = t.calibration
    assert cal["scale"]["conv"] == pytest.approx(0.4, abs=1e-6)
    assert cal["scale"]["dwconv"] == pytest.approx(1.1, abs=1e-6)
    assert t.meta["calibration_mape"] < 1e-6
    # held-out networks from the same relation are predicted exactly
    assert t.apply({"conv": 0.2, "dwconv": 0.1, "gap": 0.007}, {"conv": 9, "dwconv": 4, "gap": 1}) == pytest.approx(
        0.4 * 0.2 + 1.1 * 0.1 + 0.9 * 0.007 - 0.002 * 14 + 0.05, abs=1e-6)
    # too few networks for per-kind scales: one common scale; with fewer than 4, scale only
    t.fit(raws[:5], measured[:5])
    assert t.calibration["scale"] == {} and t.calibration["per_kernel"] != 0.0
    t.fit(raws[:2], [2 * sum(s.values()) for s, _ in raws[:2]])
    assert t.calibration["default_scale"] == pytest.approx(2.0) and t.calibration["intercept"] == 0.0


class ToySpace:
    """A two-gene space whose workloads are real traced modules."""

    name = "toy"
    input_shape = (3, 8, 8)

    def sample(self, rng):
        return {"c": int(rng.choice([4, 8, 12])), "k": int(rng.choice([3, 5]))}

    def key(self, arch):
        return json.dumps(arch, sort_keys=True)

    def build(self, arch):
        c, k = arch["c"], arch["k"]
        return nn.Sequential(nn.Conv2d(3, c, k, 1, k // 2), nn.BatchNorm2d(c), nn.ReLU(),
                             nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, 10)).eval()

    def workload(self, arch):
        return Workload(self.key(arch), trace_layers(self.build(arch), (1, *self.input_shape)), (1, 3, 8, 8),
                        build=lambda: self.build(arch))


def test_build_save_load_and_cost(tmp_path):
    space = ToySpace()
    table = build_table(space, coverage=40, samples=6, seed=0, measure=fake_measure)
    assert len(table.entries) == 3 * 2 + 3 * 1 + 3  # conv kernels (c x k), gap per c, linear per c
    path = table.save(tmp_path / "lut.json")
    model = LookupTableModel(path=path)
    w = space.workload({"c": 8, "k": 5})
    sums, counts = table.raw(w.layers)
    expected = sum(fake_measure(*kernel_module(g)) for g in group_kernels(w.layers))
    assert sum(sums.values()) == pytest.approx(expected) and counts == {"conv": 1, "gap": 1, "linear": 1}
    cal = table.calibration
    manual = sum(cal["scale"].get(op, cal["default_scale"]) * v for op, v in sums.items())
    assert model.cost(w)["latency_ms"] == pytest.approx(manual + 3 * cal["per_kernel"] + cal["intercept"])
    # a kernel the table never saw: named error, or measured when allowed
    unseen = Workload("u", [Layer("conv", 3, 32, 8, 8, 7, name="big")], (1, 3, 8, 8))
    with pytest.raises(CostModelError, match="no entry for layer big"):
        model.cost(unseen)
    assert table.predict(unseen.layers, fake_measure) > 0 and len(table.entries) == 13


def test_bad_tables_and_options(tmp_path):
    with pytest.raises(DataError, match="not found"):
        LatencyTable.load(tmp_path / "none.json")
    p = tmp_path / "bad.json"
    p.write_text(json.dumps({"format": "hwnas-lut/1", "calibration": [1, 0], "entries": {}}))
    with pytest.raises(DataError, match="calibration"):
        LatencyTable.load(p)
    good_cal = {"scale": {}, "default_scale": 1.0, "per_kernel": 0.0, "intercept": 0.0}
    p.write_text(json.dumps({"format": "hwnas-lut/1", "calibration": good_cal, "entries": {"k": -1}}))
    with pytest.raises(DataError, match="entries"):
        LatencyTable.load(p)
    with pytest.raises(ConfigError, match="exactly one"):
        LookupTableModel()
    assert main(["lut", "eval", "--lut", str(tmp_path / "none.json"), "--space", "mobilenet"]) == 2


def test_reference_timer_orders_and_scales():
    from hwnas.hardware.lut import ReferenceTimer

    timer = ReferenceTimer(warmup=3, repeats=15)
    assert timer.reference_ms > 0
    small = timer(nn.ReLU(), (1, 4, 4, 4))
    big = timer(nn.Conv2d(64, 64, 3, padding=1), (1, 64, 32, 32))
    assert big > 5 * small > 0
    doubled = ReferenceTimer(warmup=3, repeats=15, reference_ms=2 * timer.reference_ms)
    assert doubled.reference_ms == 2 * timer.reference_ms


def test_lut_cli_build_and_eval(tmp_path):
    from hwnas.spaces import register_space

    register_space("toy_lut_test", ToySpace)
    out, rep = tmp_path / "lut.json", tmp_path / "eval.json"
    assert main(["lut", "build", "--space", "toy_lut_test", "--out", str(out), "--coverage", "3", "--samples", "2",
                 "--repeats", "5"]) == 0
    d = json.loads(out.read_text())
    assert d["format"] == "hwnas-lut/1" and d["meta"]["timer"] == "reference" and len(d["entries"]) >= 3
    assert d["meta"]["reference_ms"] > 0
    assert main(["lut", "eval", "--lut", str(out), "--space", "toy_lut_test", "--n", "2", "--repeats", "5",
                 "--json", str(rep)]) == 0
    r = json.loads(rep.read_text())
    assert r["n"] == 2 and len(r["rows"]) == 2 and all(x["measured_ms"] > 0 for x in r["rows"])
    assert 0.0 <= r["within_10pct"] <= 1.0
    assert main(["lut", "build", "--space", "toy_lut_test", "--out", str(out), "--space-options", "[1]"]) == 2
