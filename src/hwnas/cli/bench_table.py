"""``hwnas bench-table``: score a strategy against random search on a table of measurements.

Runs the chosen strategy (default: the default strategy) and random search on
the same seeds through the ordinary study loop, and prints the median and
interquartile range of the hypervolume ratio after 50, 100 and 300 distinct
evaluations (scoring as in ``benchdata/README.md``: reference point at the
per-objective median of all rows). ``--json OUT`` also writes every seed's
ratios and the evaluated architecture strings in order, so anyone can
recompute the scores from the architectures themselves.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from hwnas.core.errors import ConfigError
from hwnas.core.objectives import Objective

CHECKPOINTS = (50, 100, 300)


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
    p.add_argument("--json", type=Path, default=None, metavar="OUT", help="write per-seed ratios and archs here")
    p.set_defaults(func=run)


def checkpoints_for(budget: int) -> list[int]:
    """The standard checkpoints up to ``budget`` (the budget itself when it is below all of them)."""
    points = [c for c in CHECKPOINTS if c <= budget]
    return points or [budget]


def run_strategy(
    frame: pd.DataFrame,
    space,
    objectives: Sequence[Objective],
    strategy_name: str,
    budget: int,
    seeds: Sequence[int],
    arch_column: str = "arch",
    options: dict | None = None,
    evaluator=None,
    scorer=None,
) -> dict:
    """Run one strategy once per seed through :class:`hwnas.study.Study`; return ratios, archs and timings.

    The result maps each checkpoint (as a string) to the per-seed ratios, plus
    ``evaluated`` (arch strings in evaluation order per seed) and
    ``overhead_s`` (seconds spent inside the strategy's setup/ask/tell per seed,
    evaluation excluded) and ``overhead_cpu_s`` (the same in process CPU time).
    """
    from hwnas.evaluators.table import TableEvaluator
    from hwnas.strategies import get_strategy
    from hwnas.strategies.scoring import TableScorer
    from hwnas.study import Study

    metrics = [o.metric for o in objectives]
    evaluator = evaluator or TableEvaluator(frame, space, columns=metrics, arch_column=arch_column)
    scorer = scorer or TableScorer(frame, objectives, arch_column=arch_column, space=space)
    points = checkpoints_for(budget)
    out: dict = {str(c): [] for c in points}
    out.update({"evaluated": [], "overhead_s": [], "overhead_cpu_s": []})
    for seed in seeds:
        strategy = get_strategy(strategy_name, **(options or {}))
        clock = _instrument(strategy)
        study = Study(space, evaluator, objectives, strategy, seed=int(seed))
        study.optimize(budget)
        archs = [t.key for t in study.trials]
        for c in points:
            out[str(c)].append(scorer.ratio(archs[:c]))
        out["evaluated"].append(archs)
        out["overhead_s"].append(clock["wall"])
        out["overhead_cpu_s"].append(clock["cpu"])
    return out


def _instrument(strategy) -> dict:
    """Wrap the strategy's setup/ask/tell so the time spent inside them is summed into the returned dict."""
    clock = {"wall": 0.0, "cpu": 0.0}
    for name in ("setup", "ask", "tell"):
        method = getattr(strategy, name)

        def timed(*args, _method=method, **kwargs):
            w, c = time.perf_counter(), time.process_time()
            try:
                return _method(*args, **kwargs)
            finally:
                clock["wall"] += time.perf_counter() - w
                clock["cpu"] += time.process_time() - c

        setattr(strategy, name, timed)
    return clock


def summarise(values: Sequence[float]) -> tuple[float, float, float]:
    """Median and the 25th / 75th percentiles."""
    v = np.asarray(values, dtype=float)
    return float(np.median(v)), float(np.percentile(v, 25)), float(np.percentile(v, 75))


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from hwnas.evaluators.table import TableEvaluator, read_table
    from hwnas.spaces import get_space
    from hwnas.strategies import STRATEGIES
    from hwnas.strategies.scoring import TableScorer

    if args.budget < 1:
        raise ConfigError(f"--budget must be >= 1, got {args.budget}")
    if args.seeds < 1:
        raise ConfigError(f"--seeds must be >= 1, got {args.seeds}")
    if args.strategy not in STRATEGIES.available():
        raise ConfigError(f"--strategy {args.strategy!r} is not known; choose one of {STRATEGIES.available()}")
    objectives = [Objective.parse(text) for text in args.objective]
    space = get_space(args.space)
    frame = read_table(args.table)  # loaded once for every seed and strategy
    evaluator = TableEvaluator(frame, space, columns=[o.metric for o in objectives], arch_column=args.arch_column)
    scorer = TableScorer(evaluator.frame, objectives, arch_column=args.arch_column, space=space)
    seeds = list(range(args.seeds))
    names = [args.strategy] + (["random"] if args.strategy != "random" else [])
    console = Console()
    results: dict = {"default": args.strategy}
    for name in names:
        console.print(f"[bold]{name}[/]: {args.seeds} seed(s) x {args.budget} evaluations ...")
        results[name] = run_strategy(evaluator.frame, space, objectives, name, args.budget, seeds,
                                     arch_column=args.arch_column, evaluator=evaluator, scorer=scorer)

    points = checkpoints_for(args.budget)
    table = Table(title=f"hypervolume ratio on {args.table.name} ({', '.join(map(str, objectives))}), "
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
        payload = {"default": args.strategy}
        for name in names:
            payload[name] = {k: v for k, v in results[name].items()}
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(payload, indent=1))
        console.print(f"wrote {args.json}")
    return 0
