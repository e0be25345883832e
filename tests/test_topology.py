"""SCALE-Sim topology CSV: reading both flavours, writing, and converting to/from Layers."""

import pytest

from hwnas.core.errors import CostModelError, DataError
from hwnas.core.layers import Layer
from hwnas.costs.accelerator import AcceleratorModel
from hwnas.costs.topology import layers_to_rows, read_topology, write_topology

CONV = ("Layer name, IFMAP height, IFMAP width, Filter height, Filter width, Channels, Num filter, Strides,\n"
        "conv1, 229, 229, 7, 7, 3, 64, 2,\n"
        "dw_DP, 18, 18, 3, 3, 8, 1, 1,\n"
        "fc, 1, 1, 1, 1, 512, 1000, 1,\n")


def test_read_conv_flavour(tmp_path):
    p = tmp_path / "net.csv"
    p.write_text(CONV)
    rows = read_topology(p)
    assert [r.name for r in rows] == ["conv1", "dw_DP", "fc"]
    assert (rows[0].ofmap_h, rows[0].ofmap_w) == (112, 112)  # no padding: ceil((229-7+2)/2)
    g, reps = rows[1].gemm()
    assert rows[1].depthwise and reps == 8 and (g.m, g.n, g.k) == (256, 1, 9)
    assert rows[0].to_layer().out_h == 112 and rows[0].to_layer().macs == rows[0].gemm()[0].macs
    dw = rows[1].to_layer()
    assert dw.op == "dwconv" and dw.groups == 8 and dw.macs == 8 * 256 * 9


def test_read_gemm_flavour(tmp_path):
    p = tmp_path / "g.csv"
    p.write_text("Layer, M, N, K,\nqkv, 64, 192, 64,\n")
    (row,) = read_topology(p)
    g, reps = row.gemm()
    assert (g.m, g.n, g.k, reps) == (64, 192, 64, 1)
    layer = row.to_layer()
    assert layer.op == "linear" and layer.macs == 64 * 192 * 64


def test_layers_round_trip_through_csv(tmp_path):
    layers = [Layer("conv", 3, 16, 32, 32, kernel=3, stride=2, name="stem"), Layer("relu", 16, 16, 16, 16),
              Layer("dwconv", 16, 16, 16, 16, kernel=5, groups=16, name="dw"),
              Layer("conv", 16, 24, 16, 16, kernel=1, name="pw"), Layer("linear", 24, 10, name="fc")]
    rows, skipped = layers_to_rows(layers)
    assert skipped == ["relu1"] and len(rows) == 4
    back = read_topology(write_topology(rows, tmp_path / "x.csv"))
    m = AcceleratorModel()
    gemm_layers = [x for x in layers if x.op != "relu"]
    for layer, row in zip(gemm_layers, back):
        assert row.to_layer().macs == layer.macs
        assert m.cost_gemm(*row.gemm()).compute_cycles == m.cost_layer(layer).compute_cycles


@pytest.mark.parametrize("text, match", [
    ("Layer name, a, b, c, d, e, f, g,\nc1, 10, 10, 3, 3, 3,\n", r":2: expected 8 columns"),
    ("Layer name, a, b, c, d, e, f, g,\nc1, 10, ten, 3, 3, 3, 8, 1,\n", r":2: column 'IFMAP width' = 'ten'"),
    ("Layer name, a, b, c, d, e, f, g,\nc1, 2, 2, 3, 3, 3, 8, 1,\n", "filter 3x3 larger than ifmap 2x2"),
    ("Layer name, a, b, c, d, e, f, g,\nc1, 8, 8, 3, 3, 0, 8, 1,\n", "'Channels' = 0 must be >= 1"),
    ("Layer name, a, b, c, d, e, f, g,\n", "no layer rows"),
])
def test_bad_rows_named(tmp_path, text, match):
    p = tmp_path / "bad.csv"
    p.write_text(text)
    with pytest.raises(DataError, match=match):
        read_topology(p)


def test_unrepresentable_layers_refused():
    with pytest.raises(CostModelError, match="grouped conv"):
        layers_to_rows([Layer("conv", 16, 16, 8, 8, kernel=3, groups=4, name="g")])
    with pytest.raises(CostModelError, match="batch=2"):
        layers_to_rows([Layer("conv", 16, 16, 8, 8, kernel=3, batch=2, name="b")])
