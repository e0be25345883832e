"""What a job hands back: the study it ran, its Pareto front as rows, and where its files are."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class SearchResult:
    """A finished (or resumed and finished) search.

    ``rows`` are the Pareto front as plain dicts, best first objective first for a table search and by
    cost for the train-once job (its ``front.csv`` rows); ``study`` is the live
    :class:`hwnas.study.Study` (trials, objectives, storage) and ``out`` the output folder, if any.
    """

    study: object
    rows: list[dict] = field(default_factory=list)
    out: Path | None = None

    @property
    def front(self) -> list:
        """The Pareto-optimal trials (:meth:`hwnas.study.Study.pareto_front`)."""
        return self.study.pareto_front()


def front_rows(study) -> list[dict]:
    """The study's Pareto front as ``{"number", "arch" (text form), metric: value, ...}`` rows."""
    fmt = study.space.format
    return [{"number": t.number, "arch": fmt(t.arch), **t.metrics} for t in study.pareto_front()]
