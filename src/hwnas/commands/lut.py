"""``hwnas lut``: build a latency lookup table for a space on this machine, and check it.

    hwnas lut build --space mobilenet --out lut.json [--samples 30] [--coverage 100]
    hwnas lut eval  --lut lut.json --space mobilenet [--n 50] [--json report.json]

``build`` measures every distinct kernel met in ``--coverage`` sampled
architectures once, then calibrates the summed table on ``--samples`` whole
networks. ``eval`` measures ``--n`` fresh architectures end to end and reports
how close the table's predictions are (kernels the table lacks are measured on
the fly and counted).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from hwnas.errors import ConfigError


def _space(args):
    from hwnas.spaces import get_space

    try:
        options = json.loads(args.space_options) if args.space_options else {}
    except json.JSONDecodeError as e:
        raise ConfigError(f"--space-options: not JSON: {e}") from None
    if not isinstance(options, dict):
        raise ConfigError("--space-options: expected a JSON object of space options")
    space = get_space(args.space, **options)
    if not hasattr(space, "workload"):
        raise ConfigError(f"space {args.space!r} cannot describe its architectures as layers (not trainable)")
    return space


def _measure(timer: str, args, reference_ms: float | None = None):
    """The table's timer: ``reference`` (drift-compensated ONNX Runtime) or ``plain`` (hwnas measure)."""
    from hwnas.hardware.lut import ReferenceTimer, default_measure

    reps = {} if args.repeats is None else {"repeats": args.repeats}
    if timer == "reference":
        if args.runtime != "onnxruntime":
            raise ConfigError("--timer reference times ONNX Runtime; use --timer plain for other runtimes")
        return ReferenceTimer(threads=args.threads, reference_ms=reference_ms, **reps)
    return default_measure(runtime=args.runtime, threads=args.threads, **reps)


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("lut", help="build or evaluate a per-kernel latency lookup table",
                              description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="lut_command", metavar="{build,eval}", required=True)
    for name in ("build", "eval"):
        q = sub.add_parser(name)
        q.add_argument("--space", required=True, help="a trainable space name, e.g. mobilenet")
        q.add_argument("--space-options", help="JSON object of space constructor options")
        q.add_argument("--runtime", default="onnxruntime", help="runtime to measure on (default onnxruntime)")
        q.add_argument("--threads", type=int, default=1)
        q.add_argument("--repeats", type=int, help="timed runs per measurement (default: the timer's own)")
        if name == "build":
            q.add_argument("--out", required=True, help="JSON file to write the table to")
            q.add_argument("--samples", type=int, default=30, help="whole networks measured for calibration")
            q.add_argument("--coverage", type=int, default=100, help="architectures whose kernels are measured")
            q.add_argument("--seed", type=int, default=0)
            q.add_argument("--timer", choices=["reference", "plain"], default="reference",
                           help="reference: each run paired with a fixed reference model, drift cancels "
                                "(default); plain: hwnas.hardware.measure.measure_latency")
            q.set_defaults(func=run_build)
        else:
            q.add_argument("--lut", required=True, help="table written by `hwnas lut build`")
            q.add_argument("--n", type=int, default=50, help="fresh architectures to measure")
            q.add_argument("--seed", type=int, default=12345)
            q.add_argument("--json", dest="json_out")
            q.add_argument("--plain-too", action="store_true",
                           help="for a reference-timed table, also compare with plain measure_latency")
            q.set_defaults(func=run_eval)


def run_build(args) -> int:
    from hwnas.hardware.lut import build_table

    if args.samples < 1 or args.coverage < 0:
        raise ConfigError("--samples must be >= 1 and --coverage >= 0")
    space = _space(args)
    t0 = time.perf_counter()
    measure = _measure(args.timer, args)
    table = build_table(space, coverage=args.coverage, samples=args.samples, seed=args.seed,
                        measure=measure, log=lambda m: print(m, file=sys.stderr, flush=True))
    table.meta.update({"runtime": args.runtime, "threads": args.threads, "timer": args.timer,
                       "reference_ms": getattr(measure, "reference_ms", None),
                       "build_s": time.perf_counter() - t0})
    table.save(args.out)
    cal = table.calibration
    scales = ", ".join(f"{op} x{v:.3g}" for op, v in cal["scale"].items()) or "none"
    print(f"wrote {args.out}: {len(table.entries)} kernels; calibration: per-kind scales {scales}, others "
          f"x{cal['default_scale']:.3g}, {cal['per_kernel'] * 1e3:+.3g} us/kernel, {cal['intercept'] * 1e3:+.3g} us; "
          f"built in {table.meta['build_s']:.0f} s")
    return 0


def evaluate_table(table, space, n: int, seed: int, measure, plain=None) -> dict:
    """Predicted vs measured whole-network latency on ``n`` fresh architectures.

    ``measure`` is the table's own timer (it also fills kernels the table lacks);
    ``plain``, if given, is a second ground truth (e.g. hwnas measure_latency).
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    before = len(table.entries)
    rows = []
    seen = set()
    while len(rows) < n:
        arch = space.sample(rng)
        key = space.key(arch)
        if key in seen:
            continue
        seen.add(key)
        w = space.workload(arch)
        pred = table.predict(w.layers, measure)
        meas = float(measure(w.build(), w.input_shape))
        row = {"arch": key, "predicted_ms": pred, "measured_ms": meas, "rel_err": (pred - meas) / meas}
        if plain is not None:
            p = float(plain(w.build(), w.input_shape))
            row.update({"measured_plain_ms": p, "rel_err_plain": (pred - p) / p})
        rows.append(row)

    def stats(col: str) -> dict:
        errs = np.abs([r[col] for r in rows])
        return {"within_10pct": float(np.mean(errs <= 0.10)), "median_abs_err": float(np.median(errs)),
                "p90_abs_err": float(np.quantile(errs, 0.9))}

    out = {"n": len(rows), **stats("rel_err"), "kernels_measured_on_the_fly": len(table.entries) - before}
    if plain is not None:
        out["vs_plain"] = stats("rel_err_plain")
    out["rows"] = rows
    return out


def run_eval(args) -> int:
    from hwnas.hardware.lut import LatencyTable

    table = LatencyTable.load(args.lut)
    space = _space(args)
    timer = table.meta.get("timer", "plain")
    plain = _measure("plain", args) if timer == "reference" and args.plain_too else None
    report = evaluate_table(table, space, args.n, args.seed, _measure(timer, args, table.meta.get("reference_ms")),
                            plain)
    report["lut"] = str(args.lut)
    if args.json_out:
        Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json_out).write_text(json.dumps(report, indent=1))
    print(f"{report['n']} networks: {report['within_10pct']:.0%} within +-10% of measured, median |error| "
          f"{report['median_abs_err']:.1%}, 90th percentile {report['p90_abs_err']:.1%} "
          f"({report['kernels_measured_on_the_fly']} kernels were missing from the table)")
    if "vs_plain" in report:
        v = report["vs_plain"]
        print(f"vs plain measure_latency: {v['within_10pct']:.0%} within +-10%, median |error| "
              f"{v['median_abs_err']:.1%}")
    return 0
