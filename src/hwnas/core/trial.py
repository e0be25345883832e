"""The record of one evaluated architecture, shared by the study, storage, strategies and reports."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from hwnas.core.objectives import Constraint, Objective

COMPLETE, FAILED, RUNNING = "complete", "failed", "running"


@dataclass
class Trial:
    """One distinct, evaluated architecture."""

    number: int
    key: str
    arch: dict
    state: str = RUNNING
    metrics: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    duration_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.state == COMPLETE

    def values(self, objectives: Sequence[Objective]) -> np.ndarray:
        """Objective values, each turned into one to minimise (NaN where missing)."""
        return np.array(
            [o.sign * float(self.metrics[o.metric]) if o.metric in self.metrics else math.nan for o in objectives]
        )

    def feasible(self, constraints: Sequence[Constraint]) -> bool:
        return self.ok and all(c.satisfied(self.metrics) for c in constraints)
