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

import json
import sys
from pathlib import Path

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
    from hwnas.costs.latency.evaluation import load_table, split
    from hwnas.costs.latency.predictor import LatencyPredictor
    from hwnas.costs.latency.transfer import adapt

    table = load_table(args.table, space=args.space, arch_column=args.arch_column)
    y = table.column(args.target)
    rows = np.arange(len(y))
    if args.train_size is not None and args.train_size < len(y):
        rows = split(len(y), args.train_size, args.seed)[0]
    if args.transfer_from:
        if args.transfer_from == args.target:
            raise ConfigError(f"--transfer-from {args.transfer_from!r} is the target column itself")
        source = LatencyPredictor(space=table.space, target=args.transfer_from, members=args.members,
                                  view=args.view, representative=args.representative)
        source.fit(table.genes, table.column(args.transfer_from), catalog=table.catalog)
        pred = adapt(source, table.genes[rows], y[rows], target=args.target, seed=args.seed, catalog=table.catalog)
    else:
        pred = LatencyPredictor(space=table.space, target=args.target, members=args.members, seed=args.seed,
                                view=args.view, representative=args.representative)
        pred.fit(table.genes[rows], y[rows], catalog=table.catalog)
    pred.provenance.update({"table": str(args.table), "rows": len(rows), "seed": args.seed})
    out = pred.save(args.out)
    print(f"predictor for {args.target} ({pred.unit}) fitted on {len(rows)} rows (view {pred.view}, "
          f"representative {pred.representative}) -> {out}", file=sys.stderr)
    return 0


def _eval(args) -> int:
    from hwnas.costs.latency.evaluation import evaluate, load_table

    if args.transfer_size is not None and not args.transfer_from:
        raise ConfigError("--transfer-size needs --transfer-from")
    table = load_table(args.table, space=args.space, arch_column=args.arch_column)
    result = evaluate(table, args.target, args.train_size, seeds=args.seeds, transfer_from=args.transfer_from,
                      transfer_size=args.transfer_size, members=args.members, view=args.view,
                      representative=args.representative)
    n = args.transfer_size if args.transfer_from and args.transfer_size else args.train_size
    how = f"{args.transfer_from} -> {args.target}" if args.transfer_from else args.target
    print(f"{how}, N={n}, {args.seeds} seeds: median kendall tau {np.median(result['kendall_tau']):.3f}, "
          f"median within 10% {np.median(result['within_10pct']):.3f}")
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=1))
    return 0
