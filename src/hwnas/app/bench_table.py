"""Scoring a strategy against random search on a table of measurements (``hwnas bench-table``).

Each strategy runs on the same seeds through the ordinary study loop; the score after 50, 100,
300 and 1,000 distinct evaluations (those the budget reaches) is the hypervolume ratio (scoring as
in ``benchdata/README.md``: reference point at the per-objective median of all rows). Results hold
every seed's ratios and the evaluated architecture strings in order, so anyone can recompute the
scores.

With ``stages`` = K, the table is an NB201 cell table and the space is ``nb201_stages``: networks of
K cells, scored by the product evaluator (a cost is the sum of the cells' values, a quality their
mean; :mod:`hwnas.evaluators.stage_table`) against their exact front
(:mod:`hwnas.strategies.scoring_stages`: reference point at the median of 10,000 random networks).
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from hwnas.core.errors import ConfigError
from hwnas.core.objectives import Objective

CHECKPOINTS = (50, 100, 300, 1000)


def checkpoints_for(budget: int) -> list[int]:
    """The standard checkpoints up to ``budget`` (the budget itself when it is below all of them)."""
    points = [c for c in CHECKPOINTS if c <= budget]
    return points or [budget]


def run_strategy(
    frame: pd.DataFrame | None,
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

    ``frame`` (the table) is read only when ``evaluator`` or ``scorer`` is not given.

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
        clock = instrument(strategy)
        study = Study(space, evaluator, objectives, strategy, seed=int(seed))
        study.optimize(budget)
        archs = [t.key for t in study.trials]
        for c in points:
            out[str(c)].append(scorer.ratio(archs[:c]))
        out["evaluated"].append(archs)
        out["overhead_s"].append(clock["wall"])
        out["overhead_cpu_s"].append(clock["cpu"])
    return out


def instrument(strategy) -> dict:
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


def results_table(results: dict, points: Sequence[int], budget: int) -> list[str]:
    """Markdown rows of benchmark results ``{pair: {strategy: [run, ...]}}``: the median [IQR] hypervolume
    ratio at each checkpoint in ``points`` and the overhead per 100 evaluations (wall / CPU), with the header."""
    lines = ["| pair | strategy | " + " | ".join(f"N={c}" for c in points) + " | overhead s/100 (wall / cpu) |",
             "|---|---|" + "---|" * len(points) + "---|"]
    for pair, by in results.items():
        for strategy, runs in by.items():
            cells = []
            for c in points:
                med, q1, q3 = summarise([r[str(c)] for r in runs])
                cells.append(f"{med:.3f} [{q1:.2f}-{q3:.2f}]")
            wall = np.median([r["overhead_s"] for r in runs]) * 100 / budget
            cpu = np.median([r["overhead_cpu_s"] for r in runs]) * 100 / budget
            lines.append(f"| {pair} | {strategy} | " + " | ".join(cells) + f" | {wall:.2f} / {cpu:.2f} |")
    return lines


def parse_stage_columns(texts: Sequence[str] | None) -> dict[str, list[str]]:
    """``METRIC=COL1,COL2,...`` texts (one per metric) as ``{metric: [columns]}``."""
    out: dict[str, list[str]] = {}
    for text in texts or []:
        metric, sep, cols = text.partition("=")
        names = [c.strip() for c in cols.split(",")]
        if not sep or not metric.strip() or not all(names):
            raise ConfigError(f"--stage-columns {text!r}: write METRIC=COL1,COL2,... (one column per stage)")
        if metric.strip() in out:
            raise ConfigError(f"--stage-columns names metric {metric.strip()!r} twice")
        out[metric.strip()] = names
    return out


def _components(table, objectives, space: str, arch_column: str, stages: int | None, stage_columns):
    """The space, evaluator and scorer of one benchmark: a table of ``space``, or K-stage networks of its cells."""
    from hwnas.evaluators.table import TableEvaluator
    from hwnas.spaces import get_space
    from hwnas.spaces.table import read_table
    from hwnas.strategies.scoring import TableScorer

    metrics = [o.metric for o in objectives]
    if stages is None:
        if stage_columns:
            raise ConfigError("--stage-columns needs --stages")
        the_space = get_space(space)
        frame = read_table(table)  # loaded once for every seed and strategy
        evaluator = TableEvaluator(frame, the_space, columns=metrics, arch_column=arch_column)
        return the_space, evaluator, TableScorer(evaluator.frame, objectives, arch_column=arch_column, space=the_space)
    from hwnas.evaluators.stage_table import StageTableEvaluator
    from hwnas.strategies.scoring_stages import StageScorer

    if isinstance(stages, bool) or not isinstance(stages, int) or stages < 1:
        raise ConfigError(f"--stages must be an integer >= 1, got {stages!r}")
    if space != "nb201":
        raise ConfigError(f"--stages builds networks of NB201 cells from an NB201 table; --space must be nb201, "
                          f"got {space!r}")
    the_space = get_space("nb201_stages", stages=stages)
    evaluator = StageTableEvaluator(table, the_space, columns=metrics, stage_columns=stage_columns,
                                    arch_column=arch_column)
    return the_space, evaluator, StageScorer(evaluator, objectives)


def bench_table(table: str | Path, objectives: Sequence[Objective], strategy: str, budget: int = 300,
                seeds: int = 10, space: str = "nb201", arch_column: str = "arch", log=None,
                stages: int | None = None, stage_columns: dict[str, list[str]] | None = None) -> dict:
    """Run ``strategy`` and random search, ``seeds`` seeds each, on ``table``; results by strategy name.

    ``{"default": strategy, strategy: run_strategy(...), "random": run_strategy(...)}``; with ``stages``
    also ``"scoring"`` (:meth:`~hwnas.strategies.scoring_stages.StageScorer.describe`: the reference
    point and the true front). ``log`` (a callable) hears which strategy starts.
    """
    from hwnas.strategies import STRATEGIES

    if budget < 1:
        raise ConfigError(f"--budget must be >= 1, got {budget}")
    if seeds < 1:
        raise ConfigError(f"--seeds must be >= 1, got {seeds}")
    if strategy not in STRATEGIES.available():
        raise ConfigError(f"--strategy {strategy!r} is not known; choose one of {STRATEGIES.available()}")
    the_space, evaluator, scorer = _components(table, objectives, space, arch_column, stages, stage_columns)
    names = [strategy] + (["random"] if strategy != "random" else [])
    results: dict = {"default": strategy}
    if stages is not None:
        results["scoring"] = scorer.describe()
    for name in names:
        if log is not None:
            log(f"[bold]{name}[/]: {seeds} seed(s) x {budget} evaluations ...")
        results[name] = run_strategy(getattr(evaluator, "frame", None), the_space, objectives, name, budget,
                                     list(range(seeds)), arch_column=arch_column, evaluator=evaluator, scorer=scorer)
    return results


#: keys of :func:`bench_table`'s result that are not a strategy's runs
NOT_RUNS = ("default", "scoring")


def results_page(intro: Sequence[str], command: str, seconds: float, results: dict, points: Sequence[int],
                 budget: int) -> str:
    """A benchmark's markdown page: ``intro`` lines (title, protocol), the command, the machine and the time it
    took, then :func:`results_table`."""
    lines = [*intro, "", f"Command: `{command}`", "",
             f"Machine: {platform.machine()}, {os.cpu_count()} CPU(s), shared with other jobs while measured; "
             f"{seconds / 60:.1f} min in all.", ""]
    return "\n".join(lines + results_table(results, points, budget)) + "\n"
