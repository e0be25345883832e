"""A SCALE-Sim topology costed on a systolic-array accelerator (``hwnas accel``)."""

from __future__ import annotations

import time
from pathlib import Path


def cost_topology(topology: str | Path, preset: str | None = None, changes: dict | None = None,
                  gemm: bool | None = None) -> dict:
    """Cycles, stalls, latency and energy of every layer of ``topology`` and their totals.

    The accelerator is ``preset`` (default: the built-in default configuration) with ``changes``
    applied (``dataflow``, ``rows``, ``cols``, SRAM sizes, ...; None values keep the preset's).
    """
    from hwnas.costs.accelerator import AcceleratorConfig, AcceleratorModel, load_preset
    from hwnas.costs.topology import read_topology

    config = load_preset(preset) if preset else AcceleratorConfig()
    config = config.replace(**(changes or {}))
    rows = read_topology(topology, gemm=gemm)
    t0 = time.perf_counter()
    model = AcceleratorModel(config)
    layers = model.cost_topology(rows)
    totals = model.totals([model.cost_gemm(*r.gemm()) for r in rows])
    elapsed = time.perf_counter() - t0
    return {
        "topology": str(topology),
        "config": config.to_dict(),
        "layers": layers,
        "total_cycles": int(totals["cycles"]),
        "totals": totals,
        "units": {**model.units, "energy": "mJ", "latency_ms": "ms"},
        "elapsed_s": elapsed,
    }
