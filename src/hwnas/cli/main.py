"""The ``hwnas`` command. Each sub-command lives in ``hwnas.cli.<module>``.

A command module defines ``add_parser(subparsers)`` which registers its parser
and sets ``func`` (called with the parsed namespace, returns an exit code).
Modules are imported only when needed, so a command whose optional
dependencies are missing does not break the others.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from hwnas.cli.text import plain_parser
from hwnas.core.errors import HwnasError

COMMANDS = {
    "search": "hwnas.cli.search",
    "bench-table": "hwnas.cli.bench_table",
    "lut": "hwnas.cli.lut",
    "predictor": "hwnas.cli.predictor",
    "accel": "hwnas.cli.accel",
    "report": "hwnas.cli.report",
    "pick": "hwnas.cli.pick",
    "studies": "hwnas.cli.studies",
    "train": "hwnas.cli.train",
}


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hwnas", description="Hardware-aware neural architecture search")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    wanted = argv[0] if argv and argv[0] in COMMANDS else None
    for name, module in COMMANDS.items():
        if wanted is not None and name != wanted:
            sub.add_parser(name, help=f"(run 'hwnas {name} -h')")
            continue
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as e:
            if e.name is not None and e.name.startswith("hwnas.cli"):
                continue  # command not part of this build
            raise
        mod.add_parser(sub)
    plain_parser(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except HwnasError as e:
        print(f"hwnas {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"hwnas {args.command}: interrupted; everything evaluated so far is saved", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
