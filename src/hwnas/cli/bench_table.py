"""``hwnas bench-table``: score a strategy against random search on a table of measurements.

Runs the chosen strategy (default: the default strategy) and random search on
the same seeds through the ordinary study loop, and prints the median and
interquartile range of the hypervolume ratio after 50, 100, 300 and 1,000 distinct
evaluations (those the budget reaches; scoring as in ``benchdata/README.md``:
reference point at the per-objective median of all rows).
``--stages K`` searches networks of K NB201 cells, one per stage, built from the
NB201 table: a cost column's value is the sum of the K cells' values, a quality
column's the mean; ``--stage-columns lat=COL1,COL2,COL3`` reads metric ``lat`` from
a different column per stage. Scores are against the exact front, with the
reference point at the median of 10,000 random networks (seed 0). ``--json OUT`` also writes every seed's
ratios and the evaluated architecture strings in order, so anyone can
recompute the scores from the architectures themselves. The work is
:func:`hwnas.app.bench_table.bench_table`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    from hwnas.strategies import DEFAULT_STRATEGY

    p = sub.add_parser("bench-table", help="benchmark a strategy against random search on a measurement table",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--table", required=True, type=Path, help="CSV or Parquet file with an arch column")
    p.add_argument("--objective", action="append", required=True, metavar="COL:max|min",
                   help="an objective column and its direction; give it once per objective")
    p.add_argument("--strategy", default=DEFAULT_STRATEGY, help=f"strategy to compare (default {DEFAULT_STRATEGY})")
    p.add_argument("--budget", type=int, default=300, help="distinct evaluations per run (default 300)")
    p.add_argument("--seeds", type=int, default=10, help="runs per strategy, seeds 0..N-1 (default 10)")
    p.add_argument("--space", default="nb201", help="search space of the arch column (default nb201)")
    p.add_argument("--arch-column", default="arch", help="name of the architecture column (default arch)")
    p.add_argument("--stages", type=int, default=None, metavar="K",
                   help="search networks of K NB201 cells, one per stage (the table holds NB201 cells)")
    p.add_argument("--stage-columns", action="append", default=None, metavar="METRIC=COL1,COL2,...",
                   help="with --stages: metric METRIC read from one column per stage; give it once per metric")
    p.add_argument("--json", type=Path, default=None, metavar="OUT", help="write per-seed ratios and archs here")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np
    from rich.console import Console
    from rich.table import Table

    from hwnas.app.bench_table import NOT_RUNS, bench_table, checkpoints_for, parse_stage_columns, summarise
    from hwnas.core.objectives import Objective

    console = Console()
    objectives = [Objective.parse(text) for text in args.objective]
    results = bench_table(args.table, objectives, args.strategy, args.budget, args.seeds, args.space,
                          args.arch_column, log=console.print, stages=args.stages,
                          stage_columns=parse_stage_columns(args.stage_columns))
    names = [n for n in results if n not in NOT_RUNS]
    points = checkpoints_for(args.budget)
    what = f"{args.stages}-stage networks of {args.table.name}" if args.stages else args.table.name
    table = Table(title=f"hypervolume ratio on {what} ({', '.join(map(str, objectives))}), "
                        f"median [IQR] over {args.seeds} seed(s)")
    table.add_column("strategy")
    for c in points:
        table.add_column(f"N={c}", justify="right")
    table.add_column("overhead s/100 evals", justify="right")
    for name in names:
        r = results[name]
        cells = []
        for c in points:
            med, lo, hi = summarise(r[str(c)])
            cells.append(f"{med:.3f} [{lo:.3f}, {hi:.3f}]")
        per100 = np.median(r["overhead_s"]) * 100.0 / args.budget
        table.add_row(name, *cells, f"{per100:.2f}")
    console.print(table)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1))
        console.print(f"wrote {args.json}")
    return 0
