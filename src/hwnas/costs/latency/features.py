"""Cost features of layer lists for the learned latency/energy predictor.

A latency is close to *additive* over the operations a runtime executes, so the
features of a :class:`~hwnas.core.layers.Layer` list (any trainable space) are
amounts of work per layer kind: MACs per GEMM kind and output elements per
element-wise kind (``op`` columns: a cost per unit of work), and layer counts,
parameters and activation traffic (``struct``). Features of a space's
architectures come from the space itself (:func:`hwnas.spaces.views.executed_work`).

Precision is a feature: a GEMM layer whose weights are quantized (``w_bits`` 4, 8 or 16)
counts its MACs in its own column per kind and width (``macs_conv_w8``, ...), not in the
float32 one, because a runtime's int8 kernel costs a different time per MAC (faster for a
large conv, slower for a small depthwise one) and the additive fit keeps every coefficient
non-negative; ``weight_mbits`` holds the weights' storage in megabits at their widths.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hwnas.core.errors import CostModelError
from hwnas.core.layers import LAYER_OPS, PRECISION_BITS, Layer
from hwnas.spaces.views import FeatureBlock

# ---------------------------------------------------------------------------------------------- layers
_ELEMENTWISE = tuple(op for op in LAYER_OPS if op not in ("conv", "dwconv", "linear"))
_GEMMS = ("conv", "dwconv", "linear")
_QUANT_BITS = tuple(b for b in PRECISION_BITS if b != 32)


def _layer_row(layers: Sequence[Layer]) -> np.ndarray:
    gemm_macs = {"conv": 0.0, "dwconv": 0.0, "linear": 0.0}
    quant_macs = {(op, b): 0.0 for op in _GEMMS for b in _QUANT_BITS}
    weight_mbits = 0.0
    gemm_count = {"conv": 0.0, "dwconv": 0.0, "linear": 0.0}
    elem = dict.fromkeys(_ELEMENTWISE, 0.0)
    params = 0.0
    traffic = 0.0
    for i, layer in enumerate(layers):
        if not isinstance(layer, Layer):
            raise CostModelError(f"layer {i}: expected a Layer, got {type(layer).__name__}")
        op = "dwconv" if layer.op == "conv" and layer.groups > 1 and layer.groups == layer.in_channels else layer.op
        if op in gemm_macs:
            if layer.w_bits == 32:
                gemm_macs[op] += layer.macs / 1e6
            else:
                quant_macs[op, layer.w_bits] += layer.macs / 1e6
            gemm_count[op] += 1.0
        else:
            elem[op] += layer.output_elements / 1e6
        params += layer.params / 1e6
        weight_mbits += layer.params * layer.w_bits / 1e6
        traffic += (layer.input_elements + layer.output_elements) / 1e6
    return np.array(
        list(gemm_macs.values()) + list(elem.values()) + list(quant_macs.values()) + list(gemm_count.values())
        + [params, traffic, len(layers), weight_mbits],
        dtype=np.float64,
    )


def layer_cost_features(networks: Sequence[Sequence[Layer]]) -> FeatureBlock:
    """Features of layer lists: MACs (millions) per GEMM kind (float32, and per kind and quantized weight
    width) and output elements per element-wise kind (``op``: cost per unit of work), and layer counts,
    parameters, activation traffic, weight storage in megabits (``struct``)."""
    if len(networks) == 0:
        raise CostModelError("no networks to featurise")
    matrix = np.stack([_layer_row(layers) for layers in networks])
    names = (
        [f"macs_{k}" for k in ("conv", "dwconv", "linear")]
        + [f"elements_{k}" for k in _ELEMENTWISE]
        + [f"macs_{k}_w{b}" for k in _GEMMS for b in _QUANT_BITS]
        + [f"count_{k}" for k in ("conv", "dwconv", "linear")]
        + ["params", "activation_traffic", "n_layers", "weight_mbits"]
    )
    groups = ["op"] * (3 + len(_ELEMENTWISE) + len(_GEMMS) * len(_QUANT_BITS)) + ["struct"] * 7
    return FeatureBlock(matrix, tuple(names), tuple(groups))
