"""``hwnas report --storage FILE.db [--study NAME] --out report.html``: an interactive, self-contained HTML report of a
stored study (one file that opens offline)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="write an interactive HTML report of a stored study (front, hypervolume, failures; opens offline)",
                       description=__doc__)
    p.add_argument("--storage", required=True, help="study file (.db) or database URL")
    p.add_argument("--study", default=None, help="study name (default: the only one stored)")
    p.add_argument("--out", type=Path, default=Path("report.html"))
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hwnas.app.report import write_study_report

    print(f"wrote {write_study_report(args.storage, args.out, args.study)}")
    return 0
