"""hwnas pick --out DIR [--max METRIC=VALUE ...] [--min METRIC=VALUE ...] [--by METRIC] [--copy PATH]

Choose one network from a search's front: the best on one metric (default: the search's first
quality objective, as front.csv names it, e.g. val_accuracy) among the members within every bound,
and copy its ONNX model to PATH. Any front.csv column is a metric; --max and --min may be repeated.
A study other than the default is read from DIR/NAME (--study NAME). The same from Python:
hwnas.pick(DIR, max={...}, min={...}, by=..., copy_to=...).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("pick", help="choose the best front member within bounds and copy its model",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, type=Path, help="the search's output folder (holds front.csv)")
    p.add_argument("--study", default=None, metavar="NAME", help="a study other than the default (front in OUT/NAME)")
    p.add_argument("--max", action="append", default=[], metavar="METRIC=VALUE",
                   help="upper bound, e.g. latency_ms=0.05 (repeatable)")
    p.add_argument("--min", action="append", default=[], metavar="METRIC=VALUE",
                   help="lower bound, e.g. accuracy=95 (repeatable)")
    p.add_argument("--by", default=None, metavar="METRIC", help="the metric to rank by (its better direction is known)")
    p.add_argument("--copy", default=None, type=Path, metavar="PATH", help="copy the chosen model here (file or folder)")
    p.add_argument("--json", action="store_true", help="print the chosen row as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hwnas.app.pick import parse_bounds, pick

    chosen = pick(args.out, max=parse_bounds(args.max, "--max"), min=parse_bounds(args.min, "--min"), by=args.by,
                  copy_to=args.copy, study=args.study)
    if args.json:
        print(json.dumps({**chosen.row, "by": chosen.by, "model_path": str(chosen.model) if chosen.model else None,
                          "copied_to": str(chosen.copied) if chosen.copied else None}))
        return 0
    out = sys.stdout
    print(f"best on {chosen.by} ({chosen.direction}imised) of {chosen.folder / 'front.csv'}:", file=out)
    for k, v in chosen.row.items():
        print(f"  {k}: {v:g}" if isinstance(v, float) else f"  {k}: {v}", file=out)
    if chosen.copied is not None:
        print(f"copied {chosen.model} -> {chosen.copied}", file=out)
    return 0
