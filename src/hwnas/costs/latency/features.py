"""Cost features of layer lists for the learned latency/energy predictor.

A latency is close to *additive* over the operations a runtime executes, so the
features of a :class:`~hwnas.core.layers.Layer` list (any trainable space) are
amounts of work per layer kind: MACs per GEMM kind and output elements per
element-wise kind (``op`` columns: a cost per unit of work), and layer counts,
parameters and activation traffic (``struct``). The transformer's operations
(:data:`TRANSFORMER_OPS`: matmul MACs, element-wise work of the others) get columns
only when the networks have them, so the features of CNN layer lists are unchanged.
Precision is a feature: a GEMM layer whose weights are quantized (``w_bits`` 4, 8 or 16)
counts its MACs in its own column per kind and width (``macs_conv_w8``, ...), not in the
float32 one, because a runtime's int8 kernel costs a different time per MAC (faster for a
large conv, slower for a small depthwise one) and the additive fit keeps every coefficient
non-negative; ``weight_mbits`` holds the weights' storage in megabits at their widths. These
columns, too, appear only when some network is quantized. Features of a space's architectures
come from the space itself (:func:`hwnas.spaces.views.executed_work`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hwnas.core.errors import CostModelError
from hwnas.core.layers import LAYER_OPS, PRECISION_BITS, Layer
from hwnas.spaces.views import FeatureBlock

# ---------------------------------------------------------------------------------------------- layers
#: the transformer's ops: a column each (matmul MACs, others' output elements) when the networks have them
TRANSFORMER_OPS = ("matmul", "softmax", "layernorm", "gelu", "tanh", "embedding")
_ELEMENTWISE = tuple(op for op in LAYER_OPS if op not in ("conv", "dwconv", "linear") and op not in TRANSFORMER_OPS)


_GEMMS = ("conv", "dwconv", "linear")
_QUANT_BITS = tuple(b for b in PRECISION_BITS if b != 32)


def _kind(layer: Layer) -> str:
    return "dwconv" if layer.op == "conv" and layer.groups > 1 and layer.groups == layer.in_channels else layer.op


def _layer_row(layers: Sequence[Layer], extra: Sequence[str] = (), quant: Sequence[tuple[str, int]] = ()
               ) -> np.ndarray:
    gemm_macs = dict.fromkeys(_GEMMS, 0.0)
    quant_macs = dict.fromkeys(quant, 0.0)
    gemm_count = dict.fromkeys(_GEMMS, 0.0)
    elem = dict.fromkeys(_ELEMENTWISE, 0.0)
    more = dict.fromkeys(extra, 0.0)
    params = traffic = weight_mbits = 0.0
    for i, layer in enumerate(layers):
        if not isinstance(layer, Layer):
            raise CostModelError(f"layer {i}: expected a Layer, got {type(layer).__name__}")
        op = _kind(layer)
        if op in gemm_macs:
            if layer.w_bits == 32:
                gemm_macs[op] += layer.macs / 1e6
            else:
                quant_macs[op, layer.w_bits] += layer.macs / 1e6
            gemm_count[op] += 1.0
        elif op in more:
            more[op] += (layer.macs if op == "matmul" else layer.output_elements) / 1e6
        else:
            elem[op] += layer.output_elements / 1e6
        params += layer.params / 1e6
        weight_mbits += layer.params * layer.w_bits / 1e6
        traffic += (layer.input_elements + layer.output_elements) / 1e6
    return np.array(
        list(gemm_macs.values()) + list(elem.values()) + list(more.values()) + list(quant_macs.values())
        + list(gemm_count.values()) + [params, traffic, len(layers)] + ([weight_mbits] if quant else []),
        dtype=np.float64,
    )


def layer_cost_features(networks: Sequence[Sequence[Layer]]) -> FeatureBlock:
    """Features of layer lists: MACs (millions) per GEMM kind (float32, and per kind and quantized weight
    width) and output elements per element-wise kind (``op``: cost per unit of work), and layer counts,
    parameters, activation traffic, weight storage in megabits (``struct``). Transformer and quantized
    columns appear only when some network has such layers, so float32 CNN features keep their names."""
    if len(networks) == 0:
        raise CostModelError("no networks to featurise")
    layers_all = [layer for layers in networks for layer in layers if isinstance(layer, Layer)]
    present = {layer.op for layer in layers_all}
    extra = [op for op in TRANSFORMER_OPS if op in present]
    bits = {(_kind(layer), layer.w_bits) for layer in layers_all if layer.w_bits != 32}
    quant = [(k, b) for k in _GEMMS for b in _QUANT_BITS if (k, b) in bits]
    matrix = np.stack([_layer_row(layers, extra, quant) for layers in networks])
    names = (
        [f"macs_{k}" for k in _GEMMS]
        + [f"elements_{k}" for k in _ELEMENTWISE]
        + [("macs_" if k == "matmul" else "elements_") + k for k in extra]
        + [f"macs_{k}_w{b}" for k, b in quant]
        + [f"count_{k}" for k in _GEMMS]
        + ["params", "activation_traffic", "n_layers"] + (["weight_mbits"] if quant else [])
    )
    groups = ["op"] * (3 + len(_ELEMENTWISE) + len(extra) + len(quant)) + ["struct"] * (6 + bool(quant))
    return FeatureBlock(matrix, tuple(names), tuple(groups))
