"""Progress bars with rate and ETA (rich), shown only to a person: on a terminal's stderr and not quiet.

Supernet training, latency measurement and the search loop report through :func:`progress_bar`; when
stderr is not a terminal (CI logs, pipes) or ``quiet`` is set, the bar is disabled and prints nothing,
so logs hold only the results.
"""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text


class RateColumn(ProgressColumn):
    """Steps per second, or seconds per step when slower than one a second."""

    def render(self, task) -> Text:
        speed = task.finished_speed or task.speed
        if not speed:
            return Text("")
        return Text(f"{speed:.1f}/s" if speed >= 1 else f"{1 / speed:.1f}s/it")


def shown(quiet: bool = False, console: Console | None = None) -> bool:
    """Whether a bar would be drawn: not quiet, and the console (default: stderr) is a terminal."""
    return not quiet and (console or Console(stderr=True)).is_terminal


def progress_bar(quiet: bool = False, console: Console | None = None) -> Progress:
    """A rich :class:`Progress` on ``console`` (default: stderr) with count, rate, elapsed time and ETA;
    disabled (draws nothing) unless :func:`shown`. Use as a context manager; ``add_task(description,
    total=..., info="")`` then ``update(task, completed=..., info=...)``."""
    console = console or Console(stderr=True)
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), RateColumn(),
                    TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TextColumn("eta"),
                    TimeRemainingColumn(), console=console, transient=False, disable=not shown(quiet, console))
