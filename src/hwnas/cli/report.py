"""``hwnas report --storage FILE.db [--study NAME] --out report.html``: a readable report of a stored study."""

from __future__ import annotations

import argparse
from pathlib import Path

from hwnas.core.errors import ConfigError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="write an HTML report (front, convergence, failures) of a stored study",
                       description=__doc__)
    p.add_argument("--storage", required=True, help="study file (.db) or database URL")
    p.add_argument("--study", default=None, help="study name (default: the only one stored)")
    p.add_argument("--out", type=Path, default=Path("report.html"))
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hwnas.report.html import write_report
    from hwnas.storage import SQLStorage

    if "://" not in args.storage and not Path(args.storage).exists():
        raise ConfigError(f"--storage {args.storage}: file not found")
    storage = SQLStorage(args.storage)
    name = args.study
    if name is None:
        names = sorted(storage.studies())
        if len(names) != 1:
            raise ConfigError(f"--study is needed: {args.storage} holds {names or 'no studies'}")
        name = names[0]
    print(f"wrote {write_report(storage, name, args.out)}")
    return 0
