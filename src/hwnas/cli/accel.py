"""``hwnas accel``: cost a SCALE-Sim topology CSV on the analytical systolic-array model.

    hwnas accel --topology net.csv --array 32x32 --dataflow ws [--sram-kb 64,64,64] \\
        [--bandwidth 10] [--preset NAME] --json out.json

A preset gives the starting config; every flag given overrides its field.
"""

from __future__ import annotations

import json
from pathlib import Path

from hwnas.core.errors import ConfigError


def _array(text: str) -> tuple[int, int]:
    try:
        r, c = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise ConfigError(f"--array {text!r}: expected ROWSxCOLS, e.g. 32x32") from None
    return r, c


def _sram(text: str) -> tuple[float, float, float]:
    parts = text.split(",")
    try:
        vals = tuple(float(x) for x in parts)
    except ValueError:
        raise ConfigError(f"--sram-kb {text!r}: expected IFMAP,FILTER,OFMAP kB, e.g. 64,64,64") from None
    if len(vals) == 1:
        vals = vals * 3
    if len(vals) != 3:
        raise ConfigError(f"--sram-kb {text!r}: expected one or three sizes (IFMAP,FILTER,OFMAP kB)")
    return vals


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("accel", help="cost a SCALE-Sim topology CSV on an analytical systolic array",
                              description=__doc__.split("\n\n")[0])
    p.add_argument("--topology", required=True, help="SCALE-Sim topology CSV (conv or M,N,K GEMM flavour)")
    p.add_argument("--gemm", action="store_true", help="read the topology as M,N,K rows (default: from header)")
    p.add_argument("--preset", help="accelerator preset name (eyeriss, tpu, edge_npu) or a YAML file")
    p.add_argument("--array", help="ROWSxCOLS, e.g. 32x32")
    p.add_argument("--dataflow", choices=["os", "ws", "is"])
    p.add_argument("--sram-kb", help="IFMAP,FILTER,OFMAP SRAM sizes in kB (one value: all three)")
    p.add_argument("--bandwidth", type=float, help="DRAM bandwidth in words per cycle")
    p.add_argument("--clock-mhz", type=float)
    p.add_argument("--json", dest="json_out", help="write the per-layer report here")
    p.set_defaults(func=run)


def run(args) -> int:
    from hwnas.app.accel import cost_topology

    changes: dict = {"dataflow": args.dataflow, "bandwidth": args.bandwidth, "clock_mhz": args.clock_mhz}
    if args.array:
        changes["rows"], changes["cols"] = _array(args.array)
    if args.sram_kb:
        changes["ifmap_sram_kb"], changes["filter_sram_kb"], changes["ofmap_sram_kb"] = _sram(args.sram_kb)
    report = cost_topology(args.topology, args.preset, changes, gemm=True if args.gemm else None)
    config, totals, layers, elapsed = (report["config"], report["totals"], report["layers"], report["elapsed_s"])
    if args.json_out:
        out = Path(args.json_out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=1))
    print(f"{len(layers)} layers on {config['name']} {config['rows']}x{config['cols']} {config['dataflow']}: "
          f"{int(totals['cycles'])} cycles ({int(totals['stall_cycles'])} stall), "
          f"{totals['latency_ms']:.4g} ms, {totals['energy_mj']:.4g} mJ, "
          f"utilisation {totals['utilization']:.1%}; costed in {elapsed * 1e3:.2f} ms")
    return 0
