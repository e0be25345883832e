"""Benchmark: hwnas's analytical systolic-array model against SCALE-Sim v3 (cycle counts and speed).

For every network x array size x dataflow, SCALE-Sim v3 (PyPI ``scalesim``) runs the
topology CSV in its own virtualenv (it needs numpy < 2) as a subprocess; its
COMPUTE_REPORT.csv "Total Cycles" per layer is compared with our per-layer
``compute_cycles``, and both are timed in the same run (SCALE-Sim's own
``run_scale`` time, interpreter start-up excluded; ours: a fresh model, cold
cache, the whole network, median of repeats). SCALE-Sim config: 64 kB SRAMs,
bandwidth 10, ``InterfaceBandwidth: CALC`` (its default ``configs/scale.cfg``).
Depthwise (``DP``) rows are run by SCALE-Sim one channel at a time; their
per-channel rows are summed to compare with our one row.

    python benchmarks/bench_scalesim.py                      # the grid (3 nets x 3 arrays x 3 dataflows)
    python benchmarks/bench_scalesim.py --resnet18           # plus ResNet-18 once on 32x32 ws (~10 min)
    python benchmarks/bench_scalesim.py --nets resnet8_cifar --arrays 16x16 --dataflows os

Writes a JSON of every per-layer figure to --out (default benchmarks/results/scalesim_raw.json)
and prints the markdown tables recorded in benchmarks/results/cost_models.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hwnas.costs.accelerator import AcceleratorConfig, AcceleratorModel
from hwnas.costs.topology import read_topology

HERE = Path(__file__).resolve().parent
VENV = HERE / ".scalesim-venv"
TOPOLOGIES = HERE / "topologies"

CONFIG = """[general]
run_name = {run}

[architecture_presets]
ArrayHeight:    {rows}
ArrayWidth:     {cols}
IfmapSramSzkB:   64
FilterSramSzkB:  64
OfmapSramSzkB:   64
IfmapOffset:    0
FilterOffset:   10000000
OfmapOffset:    20000000
Bandwidth : 10
Dataflow : {dataflow}
MemoryBanks:   1
ReadRequestBuffer: 512
WriteRequestBuffer: 512

[layout]
IfmapCustomLayout: False
IfmapSRAMBankBandwidth: 10
IfmapSRAMBankNum: 10
IfmapSRAMBankPort: 2
FilterCustomLayout: False
FilterSRAMBankBandwidth: 10
FilterSRAMBankNum: 10
FilterSRAMBankPort: 2

[sparsity]
SparsitySupport : false
SparseRep : ellpack_block
OptimizedMapping : false
BlockSize : 8
RandomNumberGeneratorSeed : 40

[run_presets]
InterfaceBandwidth: CALC
UseRamulatorTrace: False
"""

DRIVER = """
import contextlib, io, json, sys, time
from scalesim.scale_sim import scalesim
cfg, topo, out, gemm = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1"
with contextlib.redirect_stdout(io.StringIO()):
    s = scalesim(save_disk_space=True, verbose=False, config=cfg, topology=topo, layout=topo,
                 input_type_gemm=gemm)
    t0 = time.perf_counter()
    s.run_scale(top_path=out)
    dt = time.perf_counter() - t0
print(json.dumps({"elapsed_s": dt}))
"""


def ensure_venv() -> Path:
    py = VENV / "bin" / "python"
    if not py.exists():
        print(f"creating {VENV} with scalesim (numpy<2) ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", "scalesim", "numpy<2"], check=True)
    return py


def run_scalesim(py: Path, topo: Path, rows: int, cols: int, dataflow: str, gemm: bool) -> tuple[list[int], float]:
    with tempfile.TemporaryDirectory() as tmp:
        run = f"{topo.stem}_{rows}x{cols}_{dataflow}"
        cfg = Path(tmp) / "scale.cfg"
        cfg.write_text(CONFIG.format(run=run, rows=rows, cols=cols, dataflow=dataflow))
        res = subprocess.run([str(py), "-c", DRIVER, str(cfg), str(topo), tmp, "1" if gemm else "0"],
                             capture_output=True, text=True)
        if res.returncode != 0:
            raise RuntimeError(f"scalesim failed on {run}:\n{res.stderr[-3000:]}")
        elapsed = json.loads(res.stdout.strip().splitlines()[-1])["elapsed_s"]
        report = next(Path(tmp).rglob("COMPUTE_REPORT.csv"))
        with report.open() as f:
            table = list(csv.reader(f))
        header = [h.strip() for h in table[0]]
        col = header.index("Total Cycles")
        cycles = [int(float(r[col])) for r in table[1:] if r and r[0].strip()]
        return cycles, elapsed


def time_ours(topo_rows, config: AcceleratorConfig, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        AcceleratorModel(config).cost_topology(topo_rows)  # fresh model: cold per-shape cache
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def compare(py: Path, net: str, rows: int, cols: int, dataflow: str, repeats: int) -> dict:
    topo = TOPOLOGIES / f"{net}.csv"
    topo_rows = read_topology(topo)
    gemm = topo_rows[0].gemm_row
    config = AcceleratorConfig(rows=rows, cols=cols, dataflow=dataflow, ifmap_sram_kb=64, filter_sram_kb=64,
                               ofmap_sram_kb=64, bandwidth=10)
    ours = [r["compute_cycles"] for r in AcceleratorModel(config).cost_topology(topo_rows)]
    ss_rows, ss_time = run_scalesim(py, topo, rows, cols, dataflow, gemm)
    # fold SCALE-Sim's per-channel rows of depthwise layers back into one row each
    theirs, i = [], 0
    for r in topo_rows:
        n = r.channels if r.depthwise else 1
        theirs.append(sum(ss_rows[i:i + n]))
        i += n
    if i != len(ss_rows):
        raise RuntimeError(f"{net}: SCALE-Sim reported {len(ss_rows)} rows, expected {i}")
    errs = [abs(a - b) / b for a, b in zip(ours, theirs)]
    our_time = time_ours(topo_rows, config, repeats)
    return {
        "net": net, "array": f"{rows}x{cols}", "dataflow": dataflow,
        "layers": [{"name": r.name, "ours": a, "scalesim": b, "rel_err": e}
                   for r, a, b, e in zip(topo_rows, ours, theirs, errs)],
        "median_err": statistics.median(errs), "worst_err": max(errs),
        "scalesim_s": ss_time, "ours_s": our_time, "speedup": ss_time / our_time,
        "total_ours": sum(ours), "total_scalesim": sum(theirs),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nets", default="resnet8_cifar,mobilenet_cifar,transformer_tiny")
    ap.add_argument("--arrays", default="16x16,32x32,64x64")
    ap.add_argument("--dataflows", default="os,ws,is")
    ap.add_argument("--resnet18", action="store_true", help="also run ResNet-18 once on 32x32 ws")
    ap.add_argument("--repeats", type=int, default=200, help="timing repeats of our model per config")
    ap.add_argument("--out", default=str(HERE / "results" / "scalesim_raw.json"))
    args = ap.parse_args()

    py = ensure_venv()
    jobs = [(n, *map(int, a.split("x")), d) for n in args.nets.split(",") for a in args.arrays.split(",")
            for d in args.dataflows.split(",")]
    if args.resnet18:
        jobs.append(("resnet18", 32, 32, "ws"))
    results = []
    for net, r, c, df in jobs:
        res = compare(py, net, r, c, df, args.repeats)
        results.append(res)
        print(f"{net:18s} {r}x{c:<3d} {df}: median err {res['median_err']:.3%} worst {res['worst_err']:.3%} "
              f"scalesim {res['scalesim_s']:.2f}s ours {res['ours_s'] * 1e3:.3f}ms "
              f"speedup {res['speedup']:.0f}x", file=sys.stderr, flush=True)
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(results, indent=1))

    print("| network | array | dataflow | layers | median err | worst err | SCALE-Sim s | ours ms | speed-up |")
    print("|---|---|---|---|---|---|---|---|---|")
    for x in results:
        print(f"| {x['net']} | {x['array']} | {x['dataflow']} | {len(x['layers'])} | {x['median_err']:.3%} | "
              f"{x['worst_err']:.3%} | {x['scalesim_s']:.2f} | {x['ours_s'] * 1e3:.3f} | {x['speedup']:.0f}x |")
    worst = max(x["worst_err"] for x in results)
    min_speed = min(x["speedup"] for x in results)
    print(f"\nworst per-layer error over all {sum(len(x['layers']) for x in results)} layer runs: {worst:.3%}; "
          f"smallest speed-up {min_speed:.0f}x; bar: <= 5% and >= 1000x -> "
          f"{'MET' if worst <= 0.05 and min_speed >= 1000 else 'NOT MET'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
