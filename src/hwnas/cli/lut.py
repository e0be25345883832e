"""``hwnas lut``: build a latency lookup table for a space on this machine, and check it.

    hwnas lut build --space mobilenet --out lut.json [--samples 30] [--coverage 100]
    hwnas lut eval  --lut lut.json --space mobilenet [--n 50] [--json report.json]

``build`` measures every distinct kernel met in ``--coverage`` sampled
architectures once, then calibrates the summed table on ``--samples`` whole
networks. ``eval`` measures ``--n`` fresh architectures end to end and reports
how close the table's predictions are (kernels the table lacks are measured on
the fly and counted). Both time with hwnas's one latency timer (the ``measure``
cost model's), ``eval`` on the scale the table was built on.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from hwnas.core.errors import ConfigError


def _space(args):
    from hwnas.app.lut import lut_space

    return lut_space(args.space, args.space_options)


def _measure(args, reference_ms: float | None = None):
    """hwnas's one latency timer (:func:`hwnas.costs.measure.measure_latency`), on the given scale."""
    from hwnas.costs.lut import default_measure

    reps = {} if args.repeats is None else {"repeats": args.repeats}
    return default_measure(runtime=args.runtime, threads=args.threads, reference_ms=reference_ms, **reps)


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
        q.add_argument("--repeats", type=int, help="timed block pairs per measurement (default: the timer's own, 200)")
        if name == "build":
            q.add_argument("--out", required=True, help="JSON file to write the table to")
            q.add_argument("--samples", type=int, default=30, help="whole networks measured for calibration")
            q.add_argument("--coverage", type=int, default=100, help="architectures whose kernels are measured")
            q.add_argument("--seed", type=int, default=0)
            q.add_argument("--align", type=int, choices=[0, 4, 8, 16],
                           help="split kernel kinds by channel alignment (0: do not); default: the one that "
                                "cross-validates best on the calibration networks")
            q.set_defaults(func=run_build)
        else:
            q.add_argument("--lut", required=True, help="table written by `hwnas lut build`")
            q.add_argument("--n", type=int, default=50, help="fresh architectures to measure")
            q.add_argument("--seed", type=int, default=12345)
            q.add_argument("--json", dest="json_out")
            q.set_defaults(func=run_eval)


def run_build(args) -> int:
    from hwnas.costs.lut import build_table

    if args.samples < 1 or args.coverage < 0:
        raise ConfigError("--samples must be >= 1 and --coverage >= 0")
    space = _space(args)
    t0 = time.perf_counter()
    measure = _measure(args)
    from hwnas.core.progress import progress_bar, shown

    with progress_bar() as bar:
        task = bar.add_task("measure", total=None, info="")
        table = build_table(space, coverage=args.coverage, samples=args.samples, seed=args.seed, measure=measure,
                            log=None if shown() else (lambda m: print(m, file=sys.stderr, flush=True)),
                            align=args.align, progress=lambda done, total, phase: bar.update(
                                task, completed=done, total=total, description=f"measure {phase}"))
    table.meta.update({"runtime": args.runtime, "threads": args.threads, "build_s": time.perf_counter() - t0})
    table.save(args.out)
    cal = table.calibration
    scales = ", ".join(f"{op} x{v:.3g}" for op, v in cal["scale"].items()) or "none"
    print(f"wrote {args.out}: {len(table.entries)} kernels; calibration (alignment {cal['align']}, call overhead "
          f"{cal['overhead_ms'] * 1e3:.3g} us): per-kind scales {scales}, others x{cal['default_scale']:.3g}, "
          f"{cal['per_kernel'] * 1e3:+.3g} us/kernel, {cal['intercept'] * 1e3:+.3g} us; fit error "
          f"{table.meta['calibration_mape']:.1%}; built in {table.meta['build_s']:.0f} s")
    return 0


def run_eval(args) -> int:
    from hwnas.costs.lut import LatencyTable

    table = LatencyTable.load(args.lut)
    space = _space(args)
    from hwnas.app.lut import evaluate_table

    report = evaluate_table(table, space, args.n, args.seed, _measure(args, table.meta.get("reference_ms")))
    report["lut"] = str(args.lut)
    if args.json_out:
        Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json_out).write_text(json.dumps(report, indent=1))
    print(f"{report['n']} networks: {report['within_10pct']:.0%} within +-10% of measured, median |error| "
          f"{report['median_abs_err']:.1%}, 90th percentile {report['p90_abs_err']:.1%} "
          f"({report['kernels_measured_on_the_fly']} kernels were missing from the table)")
    return 0
