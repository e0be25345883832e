"""CountModel: MACs, params, peak activation and size per precision, checked against torch modules."""

import pytest
from torch import nn

from hwnas.core.errors import ConfigError, CostModelError
from hwnas.core.layers import Layer, Workload
from hwnas.costs.count import CountModel, layer_live_elements


def _net():
    layers = [
        Layer("conv", 3, 16, 32, 32, kernel=3, stride=2, name="stem"),
        Layer("bn", 16, 16, 16, 16, name="bn"),
        Layer("dwconv", 16, 16, 16, 16, kernel=5, groups=16, name="dw"),
        Layer("conv", 16, 24, 16, 16, kernel=1, name="pw"),
        Layer("add", 24, 24, 16, 16, name="res"),
        Layer("gap", 24, 24, 16, 16, name="pool"),
        Layer("linear", 24, 10, bias=True, name="fc"),
    ]
    torch_net = [nn.Conv2d(3, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16),
                 nn.Conv2d(16, 16, 5, 1, 2, groups=16, bias=False), nn.Conv2d(16, 24, 1, bias=False),
                 nn.Linear(24, 10)]
    return layers, torch_net


def test_params_and_macs_match_torch():
    layers, mods = _net()
    out = CountModel().cost(Workload("n", layers, (1, 3, 32, 32)))
    assert out["params"] == sum(p.numel() for m in mods for p in m.parameters())
    # MACs by hand: stem 16x16 out, 3*9 per output; dw 25 per output; pw 16 per output; fc 24*10
    macs = 16 * 16 * 16 * 27 + 16 * 16 * 16 * 25 + 16 * 16 * 24 * 16 + 24 * 10
    assert out["macs"] == macs and out["mmacs"] == pytest.approx(macs / 1e6)
    assert out["size_kb_fp32"] == pytest.approx(out["params"] * 4 / 1024)
    assert out["size_kb_int8"] == pytest.approx(out["size_kb_fp32"] / 4)
    assert out["size_kb_fp16"] == pytest.approx(out["size_kb_fp32"] / 2)


def test_peak_activation_is_largest_single_layer_footprint():
    layers, _ = _net()
    out = CountModel(activation_bytes=1).cost(Workload("n", layers, (1, 3, 32, 32)))
    # the residual add holds two 24x16x16 inputs and its output
    assert layer_live_elements(layers[4]) == 3 * 24 * 16 * 16
    assert out["peak_activation_kb"] == pytest.approx(max(layer_live_elements(x) for x in layers) / 1024)
    assert out["peak_activation_kb"] == pytest.approx(3 * 24 * 16 * 16 / 1024)


def test_units_cover_metrics_and_bad_options_refused():
    m = CountModel(precisions=("fp32", "int4"))
    assert set(m.units) == {"macs", "mmacs", "params", "peak_activation_kb", "size_kb_fp32", "size_kb_int4"}
    assert set(m.cost(Workload("n", _net()[0], (1, 3, 32, 32)))) == set(m.units)
    with pytest.raises(ConfigError, match="int3"):
        CountModel(precisions=("int3",))
    with pytest.raises(CostModelError, match="no layers"):
        m.cost(Workload("empty", [], (1, 3, 8, 8)))
