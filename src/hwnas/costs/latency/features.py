"""Cost features of layer lists for the learned latency/energy predictor.

A latency is close to *additive* over the operations a runtime executes, so the
features of a :class:`~hwnas.core.layers.Layer` list (any trainable space) are
amounts of work per layer kind: MACs per GEMM kind and output elements per
element-wise kind (``op`` columns: a cost per unit of work), and layer counts,
parameters and activation traffic (``struct``). Features of a space's
architectures come from the space itself (:func:`hwnas.spaces.views.executed_work`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hwnas.core.errors import CostModelError
from hwnas.core.layers import LAYER_OPS, Layer
from hwnas.spaces.views import FeatureBlock

# ---------------------------------------------------------------------------------------------- layers
_ELEMENTWISE = tuple(op for op in LAYER_OPS if op not in ("conv", "dwconv", "linear"))


def _layer_row(layers: Sequence[Layer]) -> np.ndarray:
    gemm_macs = {"conv": 0.0, "dwconv": 0.0, "linear": 0.0}
    gemm_count = {"conv": 0.0, "dwconv": 0.0, "linear": 0.0}
    elem = dict.fromkeys(_ELEMENTWISE, 0.0)
    params = 0.0
    traffic = 0.0
    for i, layer in enumerate(layers):
        if not isinstance(layer, Layer):
            raise CostModelError(f"layer {i}: expected a Layer, got {type(layer).__name__}")
        op = "dwconv" if layer.op == "conv" and layer.groups > 1 and layer.groups == layer.in_channels else layer.op
        if op in gemm_macs:
            gemm_macs[op] += layer.macs / 1e6
            gemm_count[op] += 1.0
        else:
            elem[op] += layer.output_elements / 1e6
        params += layer.params / 1e6
        traffic += (layer.input_elements + layer.output_elements) / 1e6
    return np.array(
        list(gemm_macs.values()) + list(elem.values()) + list(gemm_count.values()) + [params, traffic, len(layers)],
        dtype=np.float64,
    )


def layer_cost_features(networks: Sequence[Sequence[Layer]]) -> FeatureBlock:
    """Features of layer lists: MACs (millions) per GEMM kind and output elements per element-wise kind
    (``op``: cost per unit of work), and layer counts, parameters, activation traffic (``struct``)."""
    if len(networks) == 0:
        raise CostModelError("no networks to featurise")
    matrix = np.stack([_layer_row(layers) for layers in networks])
    names = (
        [f"macs_{k}" for k in ("conv", "dwconv", "linear")]
        + [f"elements_{k}" for k in _ELEMENTWISE]
        + [f"count_{k}" for k in ("conv", "dwconv", "linear")]
        + ["params", "activation_traffic", "n_layers"]
    )
    groups = ["op"] * (3 + len(_ELEMENTWISE)) + ["struct"] * 6
    return FeatureBlock(matrix, tuple(names), tuple(groups))
