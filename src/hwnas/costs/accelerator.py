"""Analytical systolic-array accelerator: layer list -> cycles, stalls, utilisation, latency, energy, DRAM traffic.

An :class:`AcceleratorConfig` describes the hardware (array rows x cols, dataflow,
three SRAMs, DRAM bandwidth, clock, a vector unit for element-wise ops, a
per-access energy table); :class:`AcceleratorModel` costs each layer in closed
form (:mod:`hwnas.costs.systolic`) and caches the result per layer shape, so
a search that revisits the same shapes across sub-networks pays once per shape.

Conv, depthwise conv, linear and matmul layers run on the array as matrix products
(a grouped conv is ``groups`` independent products, as SCALE-Sim runs depthwise
layers channel by channel; attention's QK^T and attention x V are one product per head). Element-wise ops (pooling, add, ...) run on the
vector unit when the config has one (``vector_lanes > 0``), roofline-style (the
slower of its element operations and its DRAM traffic; softmax and layer norm make
several passes, an embedding lookup moves the rows it gathers); ops listed in
``fused_ops`` are folded into the preceding layer's output stage and cost
nothing, by declaration. Any other op is refused with an error naming it.
Memory stalls: DRAM transfers overlap compute (double-buffered SRAMs), so a
layer stalls only for the transfer time exceeding its compute time.

Precision: a layer is costed at its ``w_bits`` / ``a_bits`` (weights; input and output
activations). A width of 32 (the layer list's default: not quantized) runs at the
accelerator's native word width (``word_bytes``), so a layer list without a policy costs
what it always did. Narrower operands take fewer bits of SRAM and DRAM traffic, more of
them fit in a buffer, and their MACs cost the per-precision energy of the preset's table
(:mod:`hwnas.costs.energy`); compute cycles do not change (one MAC per PE per cycle at any
width: the array is not bit-serial), but memory stalls shrink with the traffic.
"""

from __future__ import annotations

import importlib.resources
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import yaml

from hwnas.core.errors import ConfigError, CostModelError
from hwnas.core.layers import ELEMENT_PASSES, GEMM_OPS, Layer, Workload
from hwnas.core.plaindata import dataclass_from_dict
from hwnas.costs.base import CostModel
from hwnas.costs.count import ACTIVATION_INPUTS
from hwnas.costs.energy import EnergyTable, energy_breakdown_pj, traffic_scale
from hwnas.costs.systolic import (
    DATAFLOWS,
    GemmShape,
    compute_cycles,
    dram_words,
    mapping_efficiency,
    sram_accesses,
)

#: ops that may run on the vector unit, and how many element operations each one costs
VECTOR_OPS = ("avgpool", "maxpool", "gap", "add", "mul", "relu", "hswish", "sigmoid", "bn",
              "softmax", "layernorm", "gelu", "tanh", "embedding")


@dataclass(frozen=True)
class AcceleratorConfig:
    """One systolic-array accelerator. ``bandwidth`` is DRAM words per cycle (SCALE-Sim's unit)."""

    name: str = "custom"
    rows: int = 32
    cols: int = 32
    dataflow: str = "ws"
    ifmap_sram_kb: float = 64.0
    filter_sram_kb: float = 64.0
    ofmap_sram_kb: float = 64.0
    bandwidth: float = 10.0
    clock_mhz: float = 1000.0
    word_bytes: int = 1
    vector_lanes: int = 0
    fused_ops: tuple[str, ...] = ("bn", "relu", "hswish", "sigmoid")
    energy: EnergyTable = field(default_factory=EnergyTable)

    def __post_init__(self) -> None:
        for f in ("rows", "cols", "word_bytes"):
            v = getattr(self, f)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ConfigError(f"accelerator {self.name}: {f}={v!r} must be a positive integer")
        if not isinstance(self.vector_lanes, int) or self.vector_lanes < 0:
            raise ConfigError(f"accelerator {self.name}: vector_lanes={self.vector_lanes!r} must be an integer >= 0")
        if self.dataflow not in DATAFLOWS:
            raise ConfigError(f"accelerator {self.name}: dataflow={self.dataflow!r} unknown; allowed {list(DATAFLOWS)}")
        for f in ("ifmap_sram_kb", "filter_sram_kb", "ofmap_sram_kb", "bandwidth", "clock_mhz"):
            v = getattr(self, f)
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not v > 0:
                raise ConfigError(f"accelerator {self.name}: {f}={v!r} must be a number > 0")
        object.__setattr__(self, "fused_ops", tuple(self.fused_ops))
        bad = [op for op in self.fused_ops if op not in VECTOR_OPS]
        if bad:
            raise ConfigError(f"accelerator {self.name}: fused_ops {bad} cannot be fused; allowed {list(VECTOR_OPS)}")
        if isinstance(self.energy, dict):
            object.__setattr__(self, "energy", EnergyTable.from_dict(self.energy))
        native = dict(self.energy.mac_pj_bits).get(self.native_bits)
        if native is not None and native != self.energy.mac_pj:
            raise ConfigError(f"accelerator {self.name}: energy.mac_pj_bits[{self.native_bits}]={native} disagrees with "
                              f"energy.mac_pj={self.energy.mac_pj} (the MAC at the native {self.native_bits}-bit width)")
        # the stationary operand's SRAM must hold at least one rows x cols tile
        tile_kb = self.rows * self.cols * self.word_bytes / 1024.0
        stationary = {"ws": "filter_sram_kb", "is": "ifmap_sram_kb", "os": "ofmap_sram_kb"}[self.dataflow]
        if getattr(self, stationary) < tile_kb:
            raise ConfigError(
                f"accelerator {self.name}: {stationary}={getattr(self, stationary)} is smaller than one "
                f"{self.rows}x{self.cols} stationary tile ({tile_kb:g} kB at {self.word_bytes} B/word) "
                f"for dataflow {self.dataflow!r}"
            )

    @property
    def native_bits(self) -> int:
        return 8 * self.word_bytes

    @property
    def sram_words(self) -> tuple[int, int, int]:
        return tuple(int(kb * 1024 // self.word_bytes)
                     for kb in (self.ifmap_sram_kb, self.filter_sram_kb, self.ofmap_sram_kb))

    def operand_bits(self, bits: int) -> int:
        """The width an operand of a layer's ``bits`` occupies here (32, not quantized: the native width)."""
        return self.native_bits if bits == 32 else bits

    def sram_elements(self, w_bits: int, a_bits: int) -> tuple[int, int, int]:
        """(ifmap, filter, ofmap) SRAM capacities in elements of the given operand widths."""
        return tuple(int(kb * 1024 * 8 // b) for kb, b in ((self.ifmap_sram_kb, a_bits),
                                                          (self.filter_sram_kb, w_bits),
                                                          (self.ofmap_sram_kb, a_bits)))

    @classmethod
    def from_dict(cls, d: dict) -> AcceleratorConfig:
        return dataclass_from_dict(cls, d, "accelerator")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["fused_ops"] = list(self.fused_ops)
        return d

    def replace(self, **changes) -> AcceleratorConfig:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d.update({k: v for k, v in changes.items() if v is not None})
        return AcceleratorConfig.from_dict(d)


def available_presets() -> list[str]:
    """Names of the accelerator presets shipped in ``hwnas/presets``."""
    root = importlib.resources.files("hwnas") / "presets"
    return sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".yaml"))


def load_preset(name_or_path: str) -> AcceleratorConfig:
    """A shipped preset by name (see :func:`available_presets`) or a YAML file by path."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") and path.exists():
        text = path.read_text()
        where = str(path)
    else:
        res = importlib.resources.files("hwnas") / "presets" / f"{name_or_path}.yaml"
        if not res.is_file():
            raise ConfigError(f"accelerator preset {name_or_path!r} not found; shipped presets "
                              f"{available_presets()} (or give a path to a .yaml file)")
        text = res.read_text()
        where = f"preset {name_or_path}"
    try:
        d = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"{where}: not valid YAML: {e}") from None
    if not isinstance(d, dict):
        raise ConfigError(f"{where}: expected a mapping of accelerator fields")
    d.pop("description", None)
    d.setdefault("name", path.stem if where == str(path) else name_or_path)
    return AcceleratorConfig.from_dict(d)


@dataclass(frozen=True)
class LayerCost:
    """Cost of one layer (or one topology row) on the accelerator."""

    compute_cycles: int
    stall_cycles: int
    macs: int
    mapping_efficiency: float
    sram_reads: int
    sram_writes: int
    dram_bytes: int
    vector_ops: int
    energy_pj: dict
    unit: str  # "array", "vector" or "fused"

    @property
    def total_cycles(self) -> int:
        return self.compute_cycles + self.stall_cycles


def gemm_of(layer: Layer) -> tuple[GemmShape, int]:
    """The matrix product a conv/linear layer runs, and how many times (groups)."""
    if layer.op in ("conv", "dwconv"):
        k_area = layer.kernel * (layer.kernel if layer.in_h > 1 else 1)
        g = layer.groups
        return GemmShape(layer.batch * layer.out_h * layer.out_w, layer.out_channels // g,
                         (layer.in_channels // g) * k_area), g
    if layer.op == "linear":
        return GemmShape(layer.batch * layer.in_h * layer.in_w, layer.out_channels, layer.in_channels), 1
    if layer.op == "matmul":
        g = layer.groups
        return GemmShape(layer.batch * layer.in_h * layer.in_w, layer.out_channels // g, layer.in_channels // g), g
    raise CostModelError(f"layer {layer.name or '?'}: op {layer.op!r} is not a matrix product")


def _vector_work(layer: Layer) -> int:
    if layer.op in ("avgpool", "maxpool"):
        return layer.output_elements * layer.kernel * (layer.kernel if layer.in_h > 1 else 1)
    if layer.op == "gap":
        return layer.input_elements
    return layer.output_elements * ELEMENT_PASSES.get(layer.op, 1)


class AcceleratorModel(CostModel):
    """Costs a workload on an :class:`AcceleratorConfig`; per-layer costs are cached by shape."""

    name = "accelerator"
    units = {
        "cycles": "cycles", "compute_cycles": "cycles", "stall_cycles": "cycles",
        "latency_ms": "ms", "energy_mj": "mJ", "dram_bytes": "B", "utilization": "fraction",
    }

    def __init__(self, config: AcceleratorConfig | None = None, preset: str | None = None, **overrides):
        if config is None:
            config = load_preset(preset) if preset else AcceleratorConfig()
        elif preset:
            raise ConfigError("accelerator: give either config or preset, not both")
        if overrides:
            config = config.replace(**overrides)
        self.config = config
        self._cache: dict[tuple, LayerCost] = {}

    # -- one matrix product -------------------------------------------------------------------------
    def cost_gemm(self, g: GemmShape, repeats: int = 1, w_bits: int = 32, a_bits: int = 32) -> LayerCost:
        """Cost of ``repeats`` independent products of shape ``g`` with ``w_bits`` weights and ``a_bits``
        activations (32: the native width; cached)."""
        c = self.config
        w, a = c.operand_bits(w_bits), c.operand_bits(a_bits)
        key = ("gemm", g.m, g.n, g.k, repeats, w, a)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        R, C, df, nb = c.rows, c.cols, c.dataflow, c.native_bits
        sw, sa = traffic_scale(w, nb), traffic_scale(a, nb)
        comp = compute_cycles(g, R, C, df) * repeats
        s = sram_accesses(g, R, C, df)
        d = dram_words(g, R, C, df, c.sram_elements(w, a))
        # DRAM traffic in native words: each operand at its own width
        d_words = (d.ifmap_reads + d.ofmap_writes + d.ofmap_reads) * sa + d.filter_reads * sw
        dram_b = math.ceil(d_words * c.word_bytes * repeats)
        stall = max(0, math.ceil(d_words * repeats / c.bandwidth) - comp)
        reads = ((s.ifmap_reads + s.ofmap_reads) * sa + s.filter_reads * sw) * repeats
        writes = ((s.ofmap_writes + d.ifmap_reads + d.ofmap_reads) * sa + d.filter_reads * sw) * repeats
        energy = energy_breakdown_pj(c.energy, macs=g.macs * repeats, sram_reads=reads, sram_writes=writes,
                                     dram_bytes=dram_b, vector_ops=0, pe_cycles=(comp + stall) * R * C,
                                     mac_pj=c.energy.mac_energy(w, a, nb))
        out = LayerCost(comp, stall, g.macs * repeats, mapping_efficiency(g, R, C, df), round(reads), round(writes),
                        dram_b, 0, energy, "array")
        self._cache[key] = out
        return out

    # -- one layer ----------------------------------------------------------------------------------
    def cost_layer(self, layer: Layer) -> LayerCost:
        key = layer.shape_key()
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        c = self.config
        if layer.op in GEMM_OPS:
            g, reps = gemm_of(layer)
            out = self.cost_gemm(g, reps, layer.w_bits, layer.a_bits)
        elif layer.op in c.fused_ops:
            out = LayerCost(0, 0, 0, 0.0, 0, 0, 0, 0, energy_breakdown_pj(
                c.energy, macs=0, sram_reads=0, sram_writes=0, dram_bytes=0, vector_ops=0, pe_cycles=0), "fused")
        elif layer.op in VECTOR_OPS and c.vector_lanes > 0:
            work = _vector_work(layer)
            comp = -(-work // c.vector_lanes)
            elements = ACTIVATION_INPUTS[layer.op] * layer.input_elements + layer.output_elements
            if layer.op == "embedding":  # the gathered table rows are read too
                elements += layer.output_elements
            words = elements * traffic_scale(c.operand_bits(layer.a_bits), c.native_bits)
            dram_b = math.ceil(words * c.word_bytes)
            stall = max(0, math.ceil(words / c.bandwidth) - comp)
            energy = energy_breakdown_pj(c.energy, macs=0, sram_reads=0, sram_writes=0,
                                         dram_bytes=dram_b, vector_ops=work,
                                         pe_cycles=(comp + stall) * c.rows * c.cols)
            out = LayerCost(comp, stall, 0, 0.0, 0, 0, dram_b, work, energy, "vector")
        else:
            why = ("the config has no vector unit (set vector_lanes > 0, or list the op in fused_ops)"
                   if layer.op in VECTOR_OPS else f"the systolic array runs only {'/'.join(GEMM_OPS)}")
            raise CostModelError(
                f"cost model 'accelerator' ({c.name}) cannot cost layer {layer.name or '?'} "
                f"of op {layer.op!r}: {why}"
            )
        self._cache[key] = out
        return out

    # -- reports ------------------------------------------------------------------------------------
    def layer_record(self, name: str, lc: LayerCost) -> dict:
        """Per-layer report row (the JSON the ``hwnas accel`` command writes)."""
        c = self.config
        total = lc.total_cycles
        return {
            "name": name,
            "unit": lc.unit,
            "macs": lc.macs,
            "compute_cycles": lc.compute_cycles,
            "stall_cycles": lc.stall_cycles,
            "total_cycles": total,
            "utilization": lc.macs / (total * c.rows * c.cols) if total else 0.0,
            "mapping_efficiency": lc.mapping_efficiency,
            "latency_ms": total / (c.clock_mhz * 1e3),
            "energy": sum(lc.energy_pj.values()) * 1e-9,
            "energy_breakdown_pj": dict(lc.energy_pj),
            "dram_bytes": lc.dram_bytes,
            "sram_reads": lc.sram_reads,
            "sram_writes": lc.sram_writes,
        }

    def totals(self, costs: list[LayerCost]) -> dict[str, float]:
        c = self.config
        comp = sum(x.compute_cycles for x in costs)
        stall = sum(x.stall_cycles for x in costs)
        macs = sum(x.macs for x in costs)
        cycles = comp + stall
        return {
            "cycles": float(cycles),
            "compute_cycles": float(comp),
            "stall_cycles": float(stall),
            "latency_ms": cycles / (c.clock_mhz * 1e3),
            "energy_mj": sum(sum(x.energy_pj.values()) for x in costs) * 1e-9,
            "dram_bytes": float(sum(x.dram_bytes for x in costs)),
            "utilization": macs / (cycles * c.rows * c.cols) if cycles else 0.0,
        }

    def cost_layers(self, layers: list[Layer]) -> list[dict]:
        return [self.layer_record(layer.name or f"{layer.op}{i}", self.cost_layer(layer))
                for i, layer in enumerate(layers)]

    def cost_topology(self, rows: list) -> list[dict]:
        """Per-row reports for SCALE-Sim topology rows (:class:`~hwnas.costs.topology.TopologyRow`)."""
        out = []
        for r in rows:
            g, reps = r.gemm()
            out.append(self.layer_record(r.name, self.cost_gemm(g, reps)))
        return out

    def cost(self, workload: Workload) -> dict[str, float]:
        if not workload.layers:
            raise CostModelError(f"cost model 'accelerator': workload {workload.key!r} has no layers")
        return self.totals([self.cost_layer(layer) for layer in workload.layers])

    def describe(self) -> dict:
        return {"cost_model": self.name, "config": self.config.to_dict()}
