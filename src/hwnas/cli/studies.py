"""``hwnas studies --storage FILE.db|URL``: every study a storage holds, with its state.

One line per study: evaluations done, failed and running (and by how many workers), the size of the
best front found so far (feasible, non-dominated), and the latest heartbeat any of its workers wrote.
"""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("studies", help="list the studies of a storage with their state",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--storage", required=True, help="study file (.db) or database URL")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hwnas.app.studies import format_states, study_states

    states = study_states(args.storage)
    print(format_states(states) if states else f"{args.storage} holds no studies")
    return 0
