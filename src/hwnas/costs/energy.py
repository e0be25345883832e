"""Per-access energy table (Accelergy-style) and the energy of one costed layer.

Energy is counted, not simulated: each action (a MAC, an SRAM word read or
written, a DRAM byte, a vector-unit op, one PE idling for one cycle) has a cost
in picojoules, and a layer's energy is the dot product of its action counts with
this table. The defaults are 8-bit, ~45 nm figures in the spirit of Horowitz
(ISSCC 2014) and Eyeriss (DRAM access ~200x a MAC, a large SRAM ~6x);
presets override them.

Precision: ``mac_pj`` is a MAC at the accelerator's native word width; ``mac_pj_bits``
gives a MAC whose operands are both ``b`` bits wide (4, 8, 16; 32 is float32). Widths it
omits follow ``mac_pj`` by the ratios of :data:`HOROWITZ_MAC_PJ`. A MAC of ``w``-bit weights
and ``a``-bit activations costs ``sqrt(E[w] * E[a])``: multiplier energy grows with the
product of the operand widths (Horowitz: 8-bit 0.2 pJ, 32-bit 3.1 pJ, about (32/8)^2 = 16x),
so the geometric mean is the energy of a ``w x a`` multiplier. Memory energies are per
native word; an operand of ``b`` bits costs ``b / native`` of a word per access
(:func:`traffic_scale`), and DRAM energy is per byte actually moved.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

from hwnas.core.errors import ConfigError

#: energy (pJ) of one multiply-accumulate per operand width, 45 nm, from Horowitz, "Computing's energy
#: problem", ISSCC 2014: 8-bit int mult 0.2 + add 0.03; float32 (32) mult 3.7 + add 0.9; int16 and
#: int4 multipliers extrapolated quadratically from the 8-bit one (0.8, 0.05) with 16- and 4-bit adds
#: (0.05, 0.015) between Horowitz's 8- and 32-bit adds. Only the ratios are used unless a table is given.
HOROWITZ_MAC_PJ = {4: 0.065, 8: 0.23, 16: 0.85, 32: 4.6}
#: operand widths an energy table may price (32 is float32)
ENERGY_BITS = tuple(HOROWITZ_MAC_PJ)


@dataclass(frozen=True)
class EnergyTable:
    """Picojoules per action."""

    mac_pj: float = 0.25              # one multiply-accumulate at the native word width (8-bit by default)
    sram_read_pj: float = 1.5         # one word read from a ~64 kB SRAM
    sram_write_pj: float = 1.8        # one word written to it
    dram_pj_per_byte: float = 50.0    # one byte to/from LPDDR-class DRAM
    vector_op_pj: float = 0.3         # one element-wise op on the vector unit
    pe_static_pj: float = 0.01        # one PE for one cycle (clock + leakage), paid busy or idle
    #: bits -> pJ of one MAC with both operands that wide (Accelergy-style per-precision entries);
    #: given as a mapping, held as sorted (bits, pJ) pairs so the table stays hashable
    mac_pj_bits: tuple = ()

    def __post_init__(self) -> None:
        for f in fields(self):
            if f.name == "mac_pj_bits":
                continue
            v = getattr(self, f.name)
            if not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0:
                raise ConfigError(f"energy.{f.name}={v!r} must be a number >= 0 (picojoules)")
        given = self.mac_pj_bits
        if isinstance(given, (tuple, list)) and all(isinstance(p, (tuple, list)) and len(p) == 2 for p in given):
            given = dict(given)
        if not isinstance(given, dict):
            raise ConfigError(f"energy.mac_pj_bits must map bit widths {list(ENERGY_BITS)} to picojoules")
        table = {}
        for b, v in given.items():
            try:
                bits = int(b)
            except (TypeError, ValueError):
                bits = None
            if bits not in ENERGY_BITS:
                raise ConfigError(f"energy.mac_pj_bits: bit width {b!r} not allowed; allowed {list(ENERGY_BITS)}")
            if not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0:
                raise ConfigError(f"energy.mac_pj_bits[{bits}]={v!r} must be a number >= 0 (picojoules)")
            table[bits] = float(v)
        object.__setattr__(self, "mac_pj_bits", tuple(sorted(table.items())))

    def mac_energy(self, w_bits: int, a_bits: int, native_bits: int) -> float:
        """pJ of one MAC of ``w_bits`` weights and ``a_bits`` activations on a ``native_bits``-wide datapath."""

        table = dict(self.mac_pj_bits)

        def at(b: int) -> float:
            if b in table:
                return table[b]
            if b == native_bits:
                return self.mac_pj
            if b not in HOROWITZ_MAC_PJ or native_bits not in HOROWITZ_MAC_PJ:
                raise ConfigError(f"energy: no MAC energy for {b}-bit operands; allowed {list(ENERGY_BITS)}")
            return self.mac_pj * HOROWITZ_MAC_PJ[b] / HOROWITZ_MAC_PJ[native_bits]

        return at(w_bits) if w_bits == a_bits else math.sqrt(at(w_bits) * at(a_bits))

    @classmethod
    def from_dict(cls, d: dict | None) -> EnergyTable:
        d = dict(d or {})
        known = {f.name for f in fields(cls)}
        bad = sorted(set(d) - known)
        if bad:
            raise ConfigError(f"energy: unknown field(s) {bad}; allowed {sorted(known)}")
        return cls(**d)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["mac_pj_bits"] = dict(self.mac_pj_bits)
        if not d["mac_pj_bits"]:
            del d["mac_pj_bits"]
        return d


def traffic_scale(bits: int, native_bits: int) -> float:
    """Words of the native width one ``bits``-wide element occupies in SRAM and on the DRAM bus."""
    return bits / native_bits


def energy_breakdown_pj(table: EnergyTable, *, macs: int, sram_reads: float, sram_writes: float,
                        dram_bytes: float, vector_ops: int, pe_cycles: int,
                        mac_pj: float | None = None) -> dict[str, float]:
    """Energy per action class, in picojoules (SRAM accesses in native words; ``mac_pj`` overrides the
    native MAC energy for a layer at another precision)."""
    return {
        "mac": macs * (table.mac_pj if mac_pj is None else mac_pj),
        "sram": sram_reads * table.sram_read_pj + sram_writes * table.sram_write_pj,
        "dram": dram_bytes * table.dram_pj_per_byte,
        "vector": vector_ops * table.vector_op_pj,
        "static": pe_cycles * table.pe_static_pj,
    }
