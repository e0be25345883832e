"""``hwnas predictor``: fit a learned latency/energy predictor on a measurement table, and score one.

    hwnas predictor fit  --table T.csv --target COL [--space nb201] [--train-size N] [--seed S]
                         [--view V] [--representative R] [--transfer-from COL] --out model.json
    hwnas predictor eval --table T.csv --target COL --train-size N --seeds K
                         [--transfer-from COL --transfer-size M] --json OUT

The table has an ``arch`` column (the space's text form) and numeric columns.
``fit`` uses every row (or ``--train-size`` random rows) and saves the
predictor as JSON; with ``--transfer-from`` it fits the source column on every
row first and adapts it to ``--target`` with the chosen rows. ``eval`` fits on
N random rows per seed and scores the rest: Kendall tau and the share of
predictions within +-10 %, written as ``{"kendall_tau": [...], "within_10pct": [...]}``.

The table's architectures in order (by its ``index`` column, else by row; no
targets) go to the predictor as its catalog: it checks by cross-validation on
the training rows whether the table measured each isomorphism class once on
its first-listed member, and which view of the cell the runtime executes.
"""

from __future__ import annotations

import sys

import numpy as np

from hwnas.core.errors import ConfigError
from hwnas.spaces.views import REPRESENTATIVES


def _positive(name: str):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise ConfigError(f"{name}={text!r} must be an integer") from None
        if value < 1:
            raise ConfigError(f"{name}={value} must be at least 1")
        return value

    return parse


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("predictor", help="fit or evaluate a learned latency/energy predictor",
                              description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="predictor_command", metavar="{fit,eval}", required=True)
    for name in ("fit", "eval"):
        q = sub.add_parser(name)
        q.add_argument("--table", required=True, help="CSV or Parquet file with an arch column")
        q.add_argument("--target", required=True, help="numeric column to predict, e.g. pi5_onnx_latency_ms")
        q.add_argument("--space", default="nb201", help="space of the arch column (default nb201)")
        q.add_argument("--arch-column", default="arch")
        q.add_argument("--members", type=_positive("--members"), default=8, help="ensemble size (default 8)")
        q.add_argument("--transfer-from", help="source column: fit it on every row, adapt to --target")
        q.add_argument("--view", default="auto",
                       help="what the runtime executes of an architecture, one of the space's executed-work "
                            "views (nb201: executed, executed+cse, every_edge, every_edge+cse; default auto: "
                            "chosen by cross-validation)")
        q.add_argument("--representative", default="auto", choices=["auto", *REPRESENTATIVES],
                       help="own: each row's cell was measured; first: one measurement per isomorphism class, "
                            "on its first-listed member (default auto: chosen by cross-validation)")
        if name == "fit":
            q.add_argument("--train-size", type=_positive("--train-size"),
                           help="fit on this many random rows (default: all)")
            q.add_argument("--seed", type=int, default=0)
            q.add_argument("--out", required=True, help="JSON file to save the predictor to")
            q.set_defaults(func=_fit)
        else:
            q.add_argument("--train-size", type=_positive("--train-size"), required=True)
            q.add_argument("--seeds", type=_positive("--seeds"), default=10)
            q.add_argument("--transfer-size", type=_positive("--transfer-size"),
                           help="target rows used to adapt the source (default --train-size)")
            q.add_argument("--json", help="write the per-seed scores here")
            q.set_defaults(func=_eval)


def _fit(args) -> int:
    from hwnas.app.predictor import fit_predictor

    pred, out, rows = fit_predictor(args.table, args.target, args.out, space=args.space,
                                    arch_column=args.arch_column, train_size=args.train_size, seed=args.seed,
                                    members=args.members, view=args.view, representative=args.representative,
                                    transfer_from=args.transfer_from)
    print(f"predictor for {args.target} ({pred.unit}) fitted on {rows} rows (view {pred.view}, "
          f"representative {pred.representative}) -> {out}", file=sys.stderr)
    return 0


def _eval(args) -> int:
    from hwnas.app.predictor import score_predictor

    result = score_predictor(args.table, args.target, args.train_size, seeds=args.seeds, space=args.space,
                             arch_column=args.arch_column, members=args.members, view=args.view,
                             representative=args.representative, transfer_from=args.transfer_from,
                             transfer_size=args.transfer_size, json_out=args.json)
    n = args.transfer_size if args.transfer_from and args.transfer_size else args.train_size
    how = f"{args.transfer_from} -> {args.target}" if args.transfer_from else args.target
    print(f"{how}, N={n}, {args.seeds} seeds: median kendall tau {np.median(result['kendall_tau']):.3f}, "
          f"median within 10% {np.median(result['within_10pct']):.3f}")
    return 0
