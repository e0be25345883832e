"""Readable tables of trials: the Pareto front on the terminal (rich) and as CSV files."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table

from hwnas.core.objectives import Constraint, Objective
from hwnas.core.trial import Trial


def _metric_names(objectives: Sequence[Objective], constraints: Sequence[Constraint]) -> list[str]:
    names = [o.metric for o in objectives]
    return names + [c.metric for c in constraints if c.metric not in names]


def print_front(front: Sequence[Trial], objectives, constraints=(), format_arch=str, title="Pareto front",
                console: Console | None = None) -> None:
    console = console or Console()
    if not console.is_terminal:  # a log or pipe: no reason to fold architecture strings at 80 columns
        console = Console(file=console.file, width=max(console.width, 220))
    names = _metric_names(objectives, constraints)
    table = Table(title=f"{title} ({len(front)} architectures)")
    table.add_column("#", justify="right")
    for o in objectives:
        table.add_column(f"{o.metric} ({o.direction})", justify="right")
    for n in names[len(objectives):]:
        table.add_column(n, justify="right")
    table.add_column("architecture", overflow="fold")
    for t in front:
        table.add_row(str(t.number), *[f"{t.metrics.get(n, float('nan')):.4g}" for n in names], format_arch(t.arch))
    console.print(table)


def write_trials_csv(path: Path, trials: Sequence[Trial], metric_names: Sequence[str], format_arch=str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["number", "arch", "state", *metric_names, "error"])
        for t in trials:
            w.writerow([t.number, format_arch(t.arch), t.state, *[t.metrics.get(n, "") for n in metric_names],
                        t.error or ""])
