"""Latency repeatability: the same model measured 5 times; coefficient of variation of the 5 latencies.

Models: the largest and smallest sub-networks of the digits MobileNet space (widths
0.25-1.0, as in examples/digits.yaml) and of the MNIST-1D signal space, in ONNX
Runtime (1 thread) and PyTorch eager (1 thread): 8 models. Two checks:

* within one process: each model measured ``--times`` times in a row (no result
  cache), CV of the ``latency_ms`` values;
* across processes (``--processes N``, default 5): N fresh Python processes each
  measure every model once. Twice: with the reference latency pinned once and
  shared by all N (what the latency cache does on a device: the ``shared``
  column), and with each process pinning its own (an empty cache each: ``own``).

The machine's load average is recorded before and after each part.

    .venv/bin/python benchmarks/bench_latency_repeat.py --times 5 --processes 5
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent


def models():
    from hwnas.spaces.mobilenet import MobileNetSpace
    from hwnas.spaces.signal1d import Signal1DSpace

    for space in (MobileNetSpace(widths=(0.25, 0.5, 0.75, 1.0)), Signal1DSpace()):
        for which in ("largest", "smallest"):
            yield f"{space.name}/{which}", space.build(getattr(space, which)()), (1, *space.input_shape)


def measure_all(runtimes, times: int, warmup: int, repeats: int) -> dict:
    from hwnas.costs.measure import measure_latency

    out = {}
    for name, module, shape in models():
        for runtime in runtimes:
            rows = []
            for _ in range(times):
                t0 = time.perf_counter()
                r = measure_latency(module, shape, runtime, 1, warmup, repeats)
                rows.append({"latency_ms": r.latency_ms, "median_ms": r.median_ms, "iqr_ms": r.iqr_ms,
                             "block_cv": r.cv, "number": r.number, "reference_ms": r.reference_ms,
                             "pairs": r.pairs, "kept": r.kept, "rounds": r.rounds,
                             "seconds": time.perf_counter() - t0})
            out[f"{name}/{runtime}"] = rows
    return out


def cv(values) -> float:
    v = np.asarray(values, float)
    return float(v.std() / v.mean())


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--times", type=int, default=5, help="measurements per model within one process")
    p.add_argument("--processes", type=int, default=5, help="separate processes for the across-process check (0: skip)")
    p.add_argument("--repeats", type=int, default=200, help="timed block pairs per measurement")
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--runtimes", default="onnxruntime,torch")
    p.add_argument("--json", default=str(HERE / "results" / "latency_repeat.json"))
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    torch.set_num_threads(1)
    runtimes = args.runtimes.split(",")
    if args.child:  # one measurement of each model, as JSON on stdout
        print(json.dumps(measure_all(runtimes, 1, args.warmup, args.repeats)))
        return
    from hwnas.costs.measure import device_fingerprint

    t_start = time.perf_counter()
    report = {"device": device_fingerprint(), "repeats": args.repeats, "warmup": args.warmup}
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["HWNAS_CACHE"] = str(Path(tmp) / "within")  # this process pins its own reference
        load0 = load()
        within = measure_all(runtimes, args.times, args.warmup, args.repeats)
        report["within"] = {"load_before": load0, "load_after": load(), "models": within}
        print(f"within one process ({args.times} measurements per model), load {load0} -> {load()}")
        print(f"{'model':34s} {'latency ms':>10s} {'CV':>6s} {'block CV':>8s} {'s/meas':>6s}")
        for name, rows in within.items():
            lat = [r["latency_ms"] for r in rows]
            print(f"{name:34s} {np.median(lat):10.4f} {100 * cv(lat):5.2f}% {100 * np.median([r['block_cv'] for r in rows]):7.1f}% "
                  f"{np.median([r['seconds'] for r in rows]):6.2f}", flush=True)
        if args.processes > 0:
            cmd = [sys.executable, __file__, "--child", "--repeats", str(args.repeats), "--warmup", str(args.warmup),
                   "--runtimes", args.runtimes]
            across = {}
            for mode in ("shared", "own"):
                load0 = load()
                runs = []
                for i in range(args.processes):
                    cache = Path(tmp) / (mode if mode == "shared" else f"own{i}")
                    env = {**os.environ, "HWNAS_CACHE": str(cache)}
                    runs.append(json.loads(subprocess.run(cmd, env=env, check=True, capture_output=True,
                                                          text=True).stdout))
                across[mode] = {"load_before": load0, "load_after": load(),
                                "models": {n: [run[n][0] for run in runs] for n in runs[0]}}
            report["across"] = across
            print(f"\nacross {args.processes} processes, one measurement each; load {across['shared']['load_before']}"
                  f" -> {across['own']['load_after']}")
            print(f"{'model':34s} {'latency ms':>10s} {'CV shared ref':>13s} {'CV own ref':>10s}")
            for name in across["shared"]["models"]:
                sh = [r["latency_ms"] for r in across["shared"]["models"][name]]
                own = [r["latency_ms"] for r in across["own"]["models"][name]]
                print(f"{name:34s} {np.median(sh):10.4f} {100 * cv(sh):12.2f}% {100 * cv(own):9.2f}%")
    cvs = {"within": {n: cv([r["latency_ms"] for r in rows]) for n, rows in report["within"]["models"].items()}}
    for mode, part in report.get("across", {}).items():
        cvs[f"across_{mode}"] = {n: cv([r["latency_ms"] for r in rows]) for n, rows in part["models"].items()}
    report["cv"] = cvs
    report["max_cv"] = {k: max(v.values()) for k, v in cvs.items()}
    report["max_cv_by_runtime"] = {k: {rt: max(c for n, c in v.items() if n.endswith("/" + rt)) for rt in runtimes}
                                   for k, v in cvs.items()}
    report["seconds"] = time.perf_counter() - t_start
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(report, indent=1))
    print("\nmax CV (" + " / ".join(runtimes) + "): "
          + ", ".join(f"{k} " + " / ".join(f"{100 * c:.2f}%" for c in v.values())
                      for k, v in report["max_cv_by_runtime"].items()))
    print("max CV: " + ", ".join(f"{k} {100 * v:.2f}%" for k, v in report["max_cv"].items())
          + f"; {report['seconds']:.0f} s; raw: {args.json}")


if __name__ == "__main__":
    main()
