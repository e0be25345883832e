"""Per-access energy table (Accelergy-style) and the energy of one costed layer.

Energy is counted, not simulated: each action (a MAC, an SRAM word read or
written, a DRAM byte, a vector-unit op, one PE idling for one cycle) has a cost
in picojoules, and a layer's energy is the dot product of its action counts with
this table. The defaults are 8-bit, ~45 nm figures in the spirit of Horowitz
(ISSCC 2014) and Eyeriss (DRAM access ~200x a MAC, a large SRAM ~6x);
presets override them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from hwnas.core.errors import ConfigError


@dataclass(frozen=True)
class EnergyTable:
    """Picojoules per action."""

    mac_pj: float = 0.25              # one 8-bit multiply-accumulate
    sram_read_pj: float = 1.5         # one word read from a ~64 kB SRAM
    sram_write_pj: float = 1.8        # one word written to it
    dram_pj_per_byte: float = 50.0    # one byte to/from LPDDR-class DRAM
    vector_op_pj: float = 0.3         # one element-wise op on the vector unit
    pe_static_pj: float = 0.01        # one PE for one cycle (clock + leakage), paid busy or idle

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0:
                raise ConfigError(f"energy.{f.name}={v!r} must be a number >= 0 (picojoules)")

    @classmethod
    def from_dict(cls, d: dict | None) -> EnergyTable:
        d = dict(d or {})
        known = {f.name for f in fields(cls)}
        bad = sorted(set(d) - known)
        if bad:
            raise ConfigError(f"energy: unknown field(s) {bad}; allowed {sorted(known)}")
        return cls(**d)

    def to_dict(self) -> dict:
        return asdict(self)


def energy_breakdown_pj(table: EnergyTable, *, macs: int, sram_reads: int, sram_writes: int,
                        dram_bytes: int, vector_ops: int, pe_cycles: int) -> dict[str, float]:
    """Energy per action class, in picojoules."""
    return {
        "mac": macs * table.mac_pj,
        "sram": sram_reads * table.sram_read_pj + sram_writes * table.sram_write_pj,
        "dram": dram_bytes * table.dram_pj_per_byte,
        "vector": vector_ops * table.vector_op_pj,
        "static": pe_cycles * table.pe_static_pj,
    }
