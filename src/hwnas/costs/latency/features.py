"""Cost features of layer lists for the learned latency/energy predictor.

A latency is close to *additive* over the operations a runtime executes, so the
features of a :class:`~hwnas.core.layers.Layer` list (any trainable space) are
amounts of work per layer kind: MACs per GEMM kind and output elements per
element-wise kind (``op`` columns: a cost per unit of work), and layer counts,
parameters and activation traffic (``struct``). The transformer's operations
(:data:`TRANSFORMER_OPS`: matmul MACs, element-wise work of the others) get columns
only when the networks have them, so the features of CNN layer lists are unchanged.
Features of a space's architectures come from the space itself
(:func:`hwnas.spaces.views.executed_work`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hwnas.core.errors import CostModelError
from hwnas.core.layers import LAYER_OPS, Layer
from hwnas.spaces.views import FeatureBlock

# ---------------------------------------------------------------------------------------------- layers
#: the transformer's ops: a column each (matmul MACs, others' output elements) when the networks have them
TRANSFORMER_OPS = ("matmul", "softmax", "layernorm", "gelu", "tanh", "embedding")
_ELEMENTWISE = tuple(op for op in LAYER_OPS if op not in ("conv", "dwconv", "linear") and op not in TRANSFORMER_OPS)


def _layer_row(layers: Sequence[Layer], extra: Sequence[str] = ()) -> np.ndarray:
    gemm_macs = {"conv": 0.0, "dwconv": 0.0, "linear": 0.0}
    gemm_count = {"conv": 0.0, "dwconv": 0.0, "linear": 0.0}
    elem = dict.fromkeys(_ELEMENTWISE, 0.0)
    more = dict.fromkeys(extra, 0.0)
    params = 0.0
    traffic = 0.0
    for i, layer in enumerate(layers):
        if not isinstance(layer, Layer):
            raise CostModelError(f"layer {i}: expected a Layer, got {type(layer).__name__}")
        op = "dwconv" if layer.op == "conv" and layer.groups > 1 and layer.groups == layer.in_channels else layer.op
        if op in gemm_macs:
            gemm_macs[op] += layer.macs / 1e6
            gemm_count[op] += 1.0
        elif op in more:
            more[op] += (layer.macs if op == "matmul" else layer.output_elements) / 1e6
        else:
            elem[op] += layer.output_elements / 1e6
        params += layer.params / 1e6
        traffic += (layer.input_elements + layer.output_elements) / 1e6
    return np.array(
        list(gemm_macs.values()) + list(elem.values()) + list(more.values()) + list(gemm_count.values())
        + [params, traffic, len(layers)],
        dtype=np.float64,
    )


def layer_cost_features(networks: Sequence[Sequence[Layer]]) -> FeatureBlock:
    """Features of layer lists: MACs (millions) per GEMM kind and output elements per element-wise kind
    (``op``: cost per unit of work), and layer counts, parameters, activation traffic (``struct``)."""
    if len(networks) == 0:
        raise CostModelError("no networks to featurise")
    present = {layer.op for layers in networks for layer in layers if isinstance(layer, Layer)}
    extra = [op for op in TRANSFORMER_OPS if op in present]
    matrix = np.stack([_layer_row(layers, extra) for layers in networks])
    names = (
        [f"macs_{k}" for k in ("conv", "dwconv", "linear")]
        + [f"elements_{k}" for k in _ELEMENTWISE]
        + [("macs_" if k == "matmul" else "elements_") + k for k in extra]
        + [f"count_{k}" for k in ("conv", "dwconv", "linear")]
        + ["params", "activation_traffic", "n_layers"]
    )
    groups = ["op"] * (3 + len(_ELEMENTWISE) + len(extra)) + ["struct"] * 6
    return FeatureBlock(matrix, tuple(names), tuple(groups))
