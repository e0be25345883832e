"""Benchmark: lookup-table latency vs measured ONNX Runtime latency on this machine, for a trainable space.

Builds a table (every kernel met in --coverage sampled architectures measured
once, calibrated on --samples whole networks), then measures --n fresh
architectures end to end and reports the share predicted within +-10%. Ground
truth is measured two ways: with the table's drift-compensated timer (each run
paired with a fixed reference model) and with plain ``measure_latency`` (hwnas
measure). The test-retest noise of each ground truth (the same networks measured
twice) is reported too: no predictor can beat the noise of what it is checked
against.

    python benchmarks/bench_lut.py --space mobilenet --coverage 100 --samples 30 --n 50 --seed 1
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from hwnas.commands.lut import evaluate_table
from hwnas.hardware.lut import ReferenceTimer, build_table, default_measure
from hwnas.spaces import get_space

HERE = Path(__file__).resolve().parent


def retest(space, n: int, seed: int, measure) -> dict:
    """Relative difference between two measurements of the same n networks (measured in two passes)."""
    rng = np.random.default_rng(seed)
    ws = [space.workload(space.sample(rng)) for _ in range(n)]
    a = np.array([measure(w.build(), w.input_shape) for w in ws])
    b = np.array([measure(w.build(), w.input_shape) for w in ws])
    d = np.abs(b - a) / a
    return {"n": n, "within_10pct": float(np.mean(d <= 0.10)), "median_abs_diff": float(np.median(d))}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--space", default="mobilenet")
    ap.add_argument("--coverage", type=int, default=100)
    ap.add_argument("--samples", type=int, default=30)
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--retest", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(HERE / "results" / "lut_raw.json"))
    ap.add_argument("--lut", default=str(HERE / "results" / "lut_mobilenet.json"))
    args = ap.parse_args()

    space = get_space(args.space)
    timer = ReferenceTimer(threads=1)
    plain = default_measure(threads=1)
    t0 = time.perf_counter()
    table = build_table(space, coverage=args.coverage, samples=args.samples, seed=args.seed, measure=timer,
                        log=lambda m: print(m, file=sys.stderr, flush=True))
    table.meta.update({"runtime": "onnxruntime", "threads": 1, "timer": "reference",
                       "reference_ms": timer.reference_ms, "build_s": time.perf_counter() - t0})
    table.save(args.lut)
    print(f"table: {len(table.entries)} kernels in {table.meta['build_s']:.0f} s, calibration {table.calibration}",
          file=sys.stderr, flush=True)
    report = evaluate_table(table, space, args.n, args.seed + 1000, timer, plain)
    report["retest_reference_timer"] = retest(space, args.retest, args.seed + 2000, timer)
    report["retest_plain_measure"] = retest(space, args.retest, args.seed + 2000, plain)
    report["table_meta"] = table.meta
    report["calibration"] = table.calibration
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=1))
    v = report["vs_plain"]
    print(f"{args.space}: {report['n']} fresh sub-networks; LUT within +-10% of drift-compensated measurement: "
          f"{report['within_10pct']:.0%} (median |err| {report['median_abs_err']:.1%}, p90 {report['p90_abs_err']:.1%}); "
          f"of plain measure_latency: {v['within_10pct']:.0%} (median |err| {v['median_abs_err']:.1%}); "
          f"kernels measured on the fly {report['kernels_measured_on_the_fly']}")
    for k in ("retest_reference_timer", "retest_plain_measure"):
        r = report[k]
        print(f"{k}: same {r['n']} networks measured twice: {r['within_10pct']:.0%} within 10%, "
              f"median |diff| {r['median_abs_diff']:.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
