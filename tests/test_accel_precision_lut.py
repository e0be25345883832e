"""The LUT keys kernels by precision, measures int8 kernels as quantized ONNX, refuses widths ORT cannot run;
the latency predictor's layer features separate quantized MACs."""

import numpy as np
import onnx
import pytest

from hwnas.core.errors import CostModelError
from hwnas.core.layers import Layer
from hwnas.costs.latency.features import layer_cost_features
from hwnas.costs.lut import LatencyTable, kernel_key, kernel_model


def _conv(bits):
    return [Layer("conv", 8, 16, 8, 8, kernel=3, name="c", w_bits=bits, a_bits=bits),
            Layer("bn", 16, 16, 8, 8, name="bn", w_bits=bits, a_bits=bits),
            Layer("relu", 16, 16, 8, 8, name="act", w_bits=bits, a_bits=bits)]


def test_int8_kernels_are_measured_as_quantized_onnx():
    seen = []

    def measure(model, shape):
        seen.append(model)
        if isinstance(model, str):
            ops = {n.op_type for n in onnx.load(model).graph.node}
            assert {"QuantizeLinear", "DequantizeLinear", "Conv"} <= ops
            return 0.5
        return 1.0

    table = LatencyTable()
    (_, fp32), = table.items(_conv(32), measure)
    (_, int8), = table.items(_conv(8), measure)
    assert (fp32, int8) == (1.0, 0.5)
    assert not isinstance(seen[0], str) and isinstance(seen[1], str)
    assert kernel_key(_conv(8)) != kernel_key(_conv(32)) and len(table.entries) == 2


@pytest.mark.parametrize("bits, got", [((4, 8), "w4/a8"), ((8, 16), "w8/a16"), ((16, 16), "w16/a16")])
def test_precisions_without_a_cpu_kernel_are_refused(bits, got):
    layers = [Layer("conv", 8, 16, 8, 8, kernel=3, name="c1", w_bits=bits[0], a_bits=bits[1])]
    with pytest.raises(CostModelError, match=rf"kernel c1 runs at {got}.*no native kernel for int4"):
        LatencyTable().items(layers, lambda m, s: 1.0)
    with pytest.raises(CostModelError, match="c1"):
        with kernel_model(layers):
            pass


def test_int8_kernel_model_runs_in_onnxruntime():
    import onnxruntime as ort

    with kernel_model(_conv(8)) as (path, shape):
        sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        out = sess.run(None, {"input": np.random.default_rng(0).standard_normal(shape).astype(np.float32)})[0]
    assert out.shape == (1, 16, 8, 8)


def test_predictor_features_split_quantized_macs():
    block = layer_cost_features([_conv(32), _conv(8)])
    col = {n: i for i, n in enumerate(block.names)}
    fp32, int8 = block.matrix
    macs = _conv(32)[0].macs / 1e6
    assert fp32[col["macs_conv"]] == macs and fp32[col["macs_conv_w8"]] == 0
    assert int8[col["macs_conv"]] == 0 and int8[col["macs_conv_w8"]] == macs
    assert int8[col["weight_mbits"]] * 4 == pytest.approx(fp32[col["weight_mbits"]])
    assert len(block.names) == len(block.groups) == block.matrix.shape[1]


def test_float_networks_keep_their_feature_names():
    names = layer_cost_features([_conv(32)]).names
    assert "weight_mbits" not in names and not any(n.endswith("_w8") for n in names)
