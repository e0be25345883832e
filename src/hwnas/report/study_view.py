"""What a report reads from a study: its trials split into front, feasible, infeasible and failed, the
metrics worth showing, how to write an architecture, and the model file exported for each front member."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from hwnas.core.objectives import Constraint, Objective
from hwnas.core.pareto import nondominated_mask
from hwnas.core.trial import Trial


@dataclass
class StudyView:
    """A study as a report shows it. ``models`` maps a trial number to the model file exported for it
    (relative to the report, or absolute); ``settings`` are (name, value) lines shown at the top."""

    name: str
    trials: Sequence[Trial]
    objectives: Sequence[Objective]
    constraints: Sequence[Constraint] = ()
    format_arch: Callable[[dict], str] = field(default=lambda a: json.dumps(a, sort_keys=True))
    models: Mapping[int, str] = field(default_factory=dict)
    settings: Sequence[tuple[str, str]] = ()
    true_front: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.trials = list(self.trials)
        self.objectives = list(self.objectives)
        self.constraints = list(self.constraints)
        self.completed = [t for t in self.trials if t.ok]
        self.failed = [t for t in self.trials if t.state == "failed"]
        self.feasible = [t for t in self.completed if t.feasible(self.constraints)]
        self.front: list[Trial] = []
        if self.feasible:
            F = np.stack([t.values(self.objectives) for t in self.feasible])
            self.front = sorted([t for t, k in zip(self.feasible, nondominated_mask(F)) if k],
                                key=lambda t: tuple(t.values(self.objectives)))
        self.front_numbers = {t.number for t in self.front}

    @property
    def metric_names(self) -> list[str]:
        """The objectives' metrics, then the constraints' metrics that are not objectives."""
        names = [o.metric for o in self.objectives]
        return names + [c.metric for c in self.constraints if c.metric not in names]

    def violated(self, t: Trial) -> list[Constraint]:
        """The constraints completed trial ``t`` breaks."""
        return [c for c in self.constraints if not c.satisfied(t.metrics)]

    def arch_text(self, t: Trial, limit: int = 0) -> str:
        """``t``'s architecture as the space writes it, cut to ``limit`` characters when ``limit`` > 0."""
        text = self.format_arch(t.arch)
        return text if not limit or len(text) <= limit else text[: limit - 1] + "\u2026"


def plotted_objectives(objectives: Sequence[Objective]) -> tuple[Objective, Objective]:
    """(y, x) of the front plot: the first quality objective against the first cost objective (kinds read
    from the metric names), else the first two objectives."""
    from hwnas.evaluators.base import kind_from_name

    costs = [o for o in objectives if kind_from_name(o.metric).is_cost]
    quality = [o for o in objectives if not kind_from_name(o.metric).is_cost]
    if costs and quality:
        return quality[0], costs[0]
    return objectives[0], objectives[1]


def view_of(study, format_arch: Callable[[dict], str] | None = None, models: Mapping[int, str] | None = None,
            true_front: np.ndarray | None = None) -> StudyView:
    """The :class:`StudyView` of a live :class:`~hwnas.study.Study` (``format_arch`` defaults to its space's)."""
    fp = study.fingerprint()
    settings = [("strategy", json.dumps(fp["strategy"])), ("space", fp["space"].get("name", "")),
                ("evaluator", json.dumps(fp["evaluator"]))]
    return StudyView(study.name, study.trials, study.objectives, study.constraints,
                     format_arch or study.space.format, models or {}, settings, true_front)
