"""Scoring a strategy against random search on a table of measurements (``hwnas bench-table``).

Each strategy runs on the same seeds through the ordinary study loop; the score after 50, 100
and 300 distinct evaluations is the hypervolume ratio (scoring as in ``benchdata/README.md``:
reference point at the per-objective median of all rows). Results hold every seed's ratios and
the evaluated architecture strings in order, so anyone can recompute the scores.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from hwnas.core.errors import ConfigError
from hwnas.core.objectives import Objective

CHECKPOINTS = (50, 100, 300)


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


def bench_table(table: str | Path, objectives: Sequence[Objective], strategy: str, budget: int = 300,
                seeds: int = 10, space: str = "nb201", arch_column: str = "arch", log=None) -> dict:
    """Run ``strategy`` and random search, ``seeds`` seeds each, on ``table``; results by strategy name.

    ``{"default": strategy, strategy: run_strategy(...), "random": run_strategy(...)}``; ``log`` (a
    callable) hears which strategy starts.
    """
    from hwnas.evaluators.table import TableEvaluator, read_table
    from hwnas.spaces import get_space
    from hwnas.strategies import STRATEGIES
    from hwnas.strategies.scoring import TableScorer

    if budget < 1:
        raise ConfigError(f"--budget must be >= 1, got {budget}")
    if seeds < 1:
        raise ConfigError(f"--seeds must be >= 1, got {seeds}")
    if strategy not in STRATEGIES.available():
        raise ConfigError(f"--strategy {strategy!r} is not known; choose one of {STRATEGIES.available()}")
    the_space = get_space(space)
    frame = read_table(table)  # loaded once for every seed and strategy
    evaluator = TableEvaluator(frame, the_space, columns=[o.metric for o in objectives], arch_column=arch_column)
    scorer = TableScorer(evaluator.frame, objectives, arch_column=arch_column, space=the_space)
    names = [strategy] + (["random"] if strategy != "random" else [])
    results: dict = {"default": strategy}
    for name in names:
        if log is not None:
            log(f"[bold]{name}[/]: {seeds} seed(s) x {budget} evaluations ...")
        results[name] = run_strategy(evaluator.frame, the_space, objectives, name, budget, list(range(seeds)),
                                     arch_column=arch_column, evaluator=evaluator, scorer=scorer)
    return results
