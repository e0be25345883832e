"""Roofline latency model for CPU/GPU-like targets: each layer is compute- or memory-bound.

A layer takes ``max(work / peak compute, bytes moved / memory bandwidth)`` plus a
fixed per-layer launch overhead. Work is MACs for conv/linear and element
operations for everything else; bytes are the layer's inputs, outputs and
weights at ``bytes_per_element``. Crude, but it needs only a datasheet's two
numbers, ranks layers the way real devices do (depthwise and element-wise layers
are memory-bound), and is the standard first estimate before any measurement.
Attention's matrix products are MAC work reading two activations; softmax and
layer norm make several passes over their elements
(:data:`~hwnas.core.layers.ELEMENT_PASSES`); an embedding lookup reads only the
rows it gathers, not its whole table.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from hwnas.core.errors import ConfigError, CostModelError
from hwnas.core.layers import ELEMENT_PASSES, Layer, Workload
from hwnas.core.plaindata import dataclass_from_dict
from hwnas.costs.base import CostModel
from hwnas.costs.count import input_elements

#: op -> how its work is counted (``macs`` on the MAC units, ``elementwise`` on the vector path)
ROOFLINE_WORK = {
    "conv": "macs", "dwconv": "macs", "linear": "macs",
    "avgpool": "window", "maxpool": "window", "gap": "input",
    "add": "output", "mul": "output", "relu": "output", "hswish": "output", "sigmoid": "output", "bn": "output",
    "matmul": "macs", "softmax": "output", "layernorm": "output", "gelu": "output", "tanh": "output",
    "embedding": "output",
}


def weight_elements_read(layer: Layer) -> int:
    """Weight elements a layer reads: all its parameters, but only the gathered rows of an embedding table."""
    if layer.op == "embedding":
        return min(layer.params, layer.output_elements)
    return layer.params


@dataclass(frozen=True)
class RooflineConfig:
    """Peak MAC rate (GMAC/s), element-op rate (Gop/s), memory bandwidth (GB/s), per-layer overhead (us)."""

    name: str = "cpu"
    peak_gmacs: float = 50.0
    peak_gops_elementwise: float = 25.0
    bandwidth_gbs: float = 20.0
    bytes_per_element: float = 4.0
    layer_overhead_us: float = 2.0

    def __post_init__(self) -> None:
        for f in fields(self):
            if f.name == "name":
                continue
            v = getattr(self, f.name)
            ok = isinstance(v, (int, float)) and not isinstance(v, bool)
            if not ok or v < 0 or (f.name != "layer_overhead_us" and v == 0):
                allowed = ">= 0" if f.name == "layer_overhead_us" else "> 0"
                raise ConfigError(f"roofline {self.name}: {f.name}={v!r} must be a number {allowed}")

    @classmethod
    def from_dict(cls, d: dict) -> RooflineConfig:
        return dataclass_from_dict(cls, d, "roofline")


def layer_work(layer: Layer, model: str = "roofline") -> tuple[str, int]:
    """(kind, amount): ``('macs', n)`` or ``('elementwise', n)``."""
    kind = ROOFLINE_WORK.get(layer.op)
    if kind is None:
        raise CostModelError(f"cost model {model!r} cannot cost layer {layer.name or '?'} of op {layer.op!r}; "
                             f"it knows {sorted(ROOFLINE_WORK)}")
    if kind == "macs":
        return "macs", layer.macs
    if kind == "window":
        return "elementwise", layer.output_elements * layer.kernel * (layer.kernel if layer.in_h > 1 else 1)
    if kind == "input":
        return "elementwise", layer.input_elements
    return "elementwise", layer.output_elements * ELEMENT_PASSES.get(layer.op, 1)


class RooflineModel(CostModel):
    """Latency per layer = max(compute time, memory time) + overhead, summed over the network."""

    name = "roofline"
    units = {"latency_ms": "ms", "memory_bound_fraction": "fraction", "bytes": "B"}

    def __init__(self, config: RooflineConfig | None = None, **fields_):
        if config is None:
            config = RooflineConfig.from_dict(fields_)
        elif fields_:
            config = RooflineConfig.from_dict({**asdict(config), **fields_})
        self.config = config
        self._cache: dict[tuple, tuple[float, bool, float]] = {}

    def layer_cost(self, layer: Layer) -> tuple[float, bool, float]:
        """(seconds, memory-bound?, bytes) for one layer; cached per shape."""
        key = layer.shape_key()
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        c = self.config
        kind, work = layer_work(layer)
        elems = input_elements(layer, self.name) + layer.output_elements + weight_elements_read(layer)
        nbytes = elems * c.bytes_per_element
        rate = c.peak_gmacs if kind == "macs" else c.peak_gops_elementwise
        t_comp = work / (rate * 1e9)
        t_mem = nbytes / (c.bandwidth_gbs * 1e9)
        out = (max(t_comp, t_mem) + c.layer_overhead_us * 1e-6, t_mem > t_comp, float(nbytes))
        self._cache[key] = out
        return out

    def cost(self, workload: Workload) -> dict[str, float]:
        if not workload.layers:
            raise CostModelError(f"cost model 'roofline': workload {workload.key!r} has no layers")
        costs = [self.layer_cost(layer) for layer in workload.layers]
        total = sum(t for t, _, _ in costs)
        mem = sum(t for t, bound, _ in costs if bound)
        return {"latency_ms": total * 1e3, "memory_bound_fraction": mem / total if total else 0.0,
                "bytes": sum(b for _, _, b in costs)}

    def describe(self) -> dict:
        return {"cost_model": self.name, "config": asdict(self.config)}
