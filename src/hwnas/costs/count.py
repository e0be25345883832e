"""Counting cost model: MACs, parameters, peak activation memory and model size, read off the layer list.

The cheapest hardware proxy and the one every other model is checked against:
it needs no device and no specification, only shapes. Every op it meets must be
in :data:`ACTIVATION_INPUTS` (how many input tensors are live while the op
runs); an op missing there is refused, never costed at zero. Attention's
matrix products count their MACs like any GEMM; their second operand is an
activation too (:attr:`~hwnas.core.layers.Layer.rhs_elements`).
"""

from __future__ import annotations

from collections.abc import Sequence

from hwnas.core.errors import ConfigError, CostModelError
from hwnas.core.layers import Layer, Workload
from hwnas.costs.base import CostModel

#: bytes per stored weight for each precision a model may be deployed at
PRECISION_BYTES = {"fp32": 4.0, "fp16": 2.0, "bf16": 2.0, "int8": 1.0, "int4": 0.5}

#: op -> number of same-shaped input tensors live while it runs (binary element-wise ops read two)
ACTIVATION_INPUTS = {
    "conv": 1, "dwconv": 1, "linear": 1, "avgpool": 1, "maxpool": 1, "gap": 1,
    "add": 2, "mul": 2, "relu": 1, "hswish": 1, "sigmoid": 1, "bn": 1,
    "matmul": 1, "softmax": 1, "layernorm": 1, "gelu": 1, "tanh": 1, "embedding": 1,
}


def input_elements(layer: Layer, model: str = "count") -> int:
    """Activation elements the layer reads: its same-shaped inputs plus a matmul's second operand."""
    try:
        n_in = ACTIVATION_INPUTS[layer.op]
    except KeyError:
        raise CostModelError(
            f"cost model {model!r} cannot cost layer {layer.name or '?'} of op {layer.op!r}; "
            f"it knows {sorted(ACTIVATION_INPUTS)}"
        ) from None
    return n_in * layer.input_elements + layer.rhs_elements


def layer_live_elements(layer: Layer, model: str = "count") -> int:
    """Activation elements live while ``layer`` runs: its inputs plus its output."""
    return input_elements(layer, model) + layer.output_elements


def count_layers(layers: Sequence[Layer], precisions: Sequence[str] = ("fp32", "int8"),
                 activation_bytes: float = 4.0) -> dict[str, float]:
    """Totals over a layer list; see :class:`CountModel` for the metric names."""
    if not layers:
        raise CostModelError("cost model 'count': the workload has no layers")
    macs = params = 0
    peak = 0
    for layer in layers:
        live = layer_live_elements(layer)
        macs += layer.macs
        params += layer.params
        peak = max(peak, live)
    out: dict[str, float] = {
        "macs": float(macs),
        "mmacs": macs / 1e6,
        "params": float(params),
        "peak_activation_kb": peak * activation_bytes / 1024.0,
    }
    for p in precisions:
        out[f"size_kb_{p}"] = params * PRECISION_BYTES[p] / 1024.0
    return out


class CountModel(CostModel):
    """MACs, parameters, peak activation memory and weight size per precision.

    ``peak_activation_kb`` is the largest (inputs + output) footprint of any single
    layer at ``activation_bytes`` per element (a lower bound on the arena a runtime
    needs: skip tensors kept alive across layers are not in a flat layer list).
    ``size_kb_<precision>`` is parameters x bytes per weight at that precision.
    """

    name = "count"

    def __init__(self, precisions: Sequence[str] = ("fp32", "fp16", "int8"), activation_bytes: float = 4.0):
        bad = [p for p in precisions if p not in PRECISION_BYTES]
        if bad:
            raise ConfigError(f"count: precisions {bad} unknown; allowed {sorted(PRECISION_BYTES)}")
        if not activation_bytes > 0:
            raise ConfigError(f"count: activation_bytes={activation_bytes!r} must be > 0")
        self.precisions = tuple(precisions)
        self.activation_bytes = float(activation_bytes)
        self.units = {"macs": "MAC", "mmacs": "MMAC", "params": "count", "peak_activation_kb": "kB"}
        self.units.update({f"size_kb_{p}": "kB" for p in self.precisions})

    def cost(self, workload: Workload) -> dict[str, float]:
        return count_layers(workload.layers, self.precisions, self.activation_bytes)

    def describe(self) -> dict:
        return {"cost_model": self.name, "precisions": list(self.precisions),
                "activation_bytes": self.activation_bytes}
