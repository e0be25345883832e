"""Benchmark: lookup-table latency vs measured ONNX Runtime latency on this machine, for a trainable space.

Builds a table (every kernel met in --coverage sampled architectures measured
once, calibrated on --samples whole networks), then measures --n fresh
architectures end to end and reports the share predicted within +-10%. Kernels,
calibration networks and ground truth are all timed by hwnas's one latency timer
(``measure_latency``, what the ``measure`` cost model and the search pipeline's
``latency_ms`` use), on the scale pinned for this device. The check is run
twice: in this process, and in a fresh one (``hwnas lut eval`` on the saved
table), which shows that a table and later measurements share a scale. The
test-retest noise of the ground truth (the same networks measured twice) is
reported too: no predictor can beat the noise of what it is checked against.

The default space is the one the digits demo searches (examples/digits.yaml:
``mobilenet`` with widths 0.25-1.0).

    .venv/bin/python benchmarks/bench_lut.py --space mobilenet --coverage 100 --samples 30 --n 50 --seed 1
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

from hwnas.app.lut import evaluate_table
from hwnas.costs.lut import build_table, default_measure
from hwnas.spaces import get_space

HERE = Path(__file__).resolve().parent
DIGITS = '{"widths": [0.25, 0.5, 0.75, 1.0]}'


def retest(space, n: int, seed: int, measure) -> dict:
    """Relative difference between two measurements of the same n networks (measured in two passes)."""
    rng = np.random.default_rng(seed)
    ws = [space.workload(space.sample(rng)) for _ in range(n)]
    a = np.array([measure(w.build(), w.input_shape) for w in ws])
    b = np.array([measure(w.build(), w.input_shape) for w in ws])
    d = np.abs(b - a) / a
    return {"n": n, "within_10pct": float(np.mean(d <= 0.10)), "median_abs_diff": float(np.median(d))}


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--space", default="mobilenet")
    ap.add_argument("--space-options", default=DIGITS, help=f"JSON space options (default {DIGITS})")
    ap.add_argument("--coverage", type=int, default=100)
    ap.add_argument("--samples", type=int, default=30)
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--retest", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-second-process", action="store_true", help="skip the check in a fresh process")
    ap.add_argument("--out", default=str(HERE / "results" / "lut_raw.json"))
    ap.add_argument("--lut", default=str(HERE / "results" / "lut_mobilenet.json"))
    args = ap.parse_args()

    t_start = time.perf_counter()
    load0 = load()
    options = json.loads(args.space_options)
    space = get_space(args.space, **options)
    measure = default_measure(threads=1)
    t0 = time.perf_counter()
    table = build_table(space, coverage=args.coverage, samples=args.samples, seed=args.seed, measure=measure,
                        log=lambda m: print(m, file=sys.stderr, flush=True))
    table.meta.update({"runtime": "onnxruntime", "threads": 1, "space_options": options,
                       "build_s": time.perf_counter() - t0})
    table.save(args.lut)
    cal = table.calibration
    print(f"table: {len(table.entries)} kernels in {table.meta['build_s']:.0f} s; alignment {cal['align']} "
          f"(leave-one-out error per alignment {table.meta.get('align_loo_mape')}); calibration {cal}",
          file=sys.stderr, flush=True)
    report = evaluate_table(table, space, args.n, args.seed + 1000, measure)
    report["retest"] = retest(space, args.retest, args.seed + 2000, measure)
    if not args.no_second_process:  # the saved table, judged by a fresh process
        with tempfile.NamedTemporaryFile(suffix=".json") as f:
            subprocess.run([sys.executable, "-m", "hwnas.cli.main", "lut", "eval", "--lut", args.lut, "--space", args.space,
                            "--space-options", args.space_options, "--n", str(args.n),
                            "--seed", str(args.seed + 1000), "--json", f.name], check=True)
            second = json.loads(Path(f.name).read_text())
        report["second_process"] = {k: v for k, v in second.items() if k not in ("rows", "lut")}
        first = {r["arch"]: r["measured_ms"] for r in report["rows"]}
        d = np.array([abs(r["measured_ms"] - first[r["arch"]]) / first[r["arch"]] for r in second["rows"]])
        report["second_process"]["measured_vs_first_process"] = {
            "within_10pct": float(np.mean(d <= 0.10)), "median_abs_diff": float(np.median(d))}
    report["table_meta"] = table.meta
    report["calibration"] = cal
    report["load_before"], report["load_after"] = load0, load()
    report["seconds"] = time.perf_counter() - t_start
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=1))
    print(f"{args.space} {args.space_options}: {report['n']} fresh sub-networks; LUT within +-10% of measured "
          f"latency: {report['within_10pct']:.0%} (median |err| {report['median_abs_err']:.1%}, "
          f"p90 {report['p90_abs_err']:.1%}); kernels measured on the fly {report['kernels_measured_on_the_fly']}")
    if "second_process" in report:
        s = report["second_process"]
        m = s["measured_vs_first_process"]
        print(f"fresh process (hwnas lut eval): {s['within_10pct']:.0%} within +-10% (median |err| "
              f"{s['median_abs_err']:.1%}); its measurements vs this process's: {m['within_10pct']:.0%} within 10%, "
              f"median |diff| {m['median_abs_diff']:.1%}")
    r = report["retest"]
    print(f"retest: same {r['n']} networks measured twice: {r['within_10pct']:.0%} within 10%, "
          f"median |diff| {r['median_abs_diff']:.1%}")
    print(f"load {load0} -> {report['load_after']}; {report['seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
