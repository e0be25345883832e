"""Objectives (a metric and a direction) and constraints (``latency_ms <= 5``)."""

from __future__ import annotations

import math
import operator
import re
from dataclasses import dataclass

import numpy as np

from hwnas.core.errors import ConfigError

_DIRECTIONS = ("min", "max")


@dataclass(frozen=True)
class Objective:
    """A metric to minimise or maximise."""

    metric: str
    direction: str = "min"

    def __post_init__(self) -> None:
        if self.direction not in _DIRECTIONS:
            raise ConfigError(f"objective {self.metric!r}: direction {self.direction!r} not allowed; use 'min' or 'max'")

    @classmethod
    def parse(cls, text: str) -> Objective:
        """Parse ``"metric:max"`` or ``"metric:min"`` (min when no direction is given)."""
        metric, sep, direction = text.rpartition(":")
        if not sep:
            metric, direction = text, "min"
        if not metric:
            raise ConfigError(f"objective {text!r}: expected 'METRIC:min' or 'METRIC:max'")
        return cls(metric.strip(), direction.strip())

    @property
    def sign(self) -> float:
        """Multiply by this to turn the metric into a value to minimise."""
        return 1.0 if self.direction == "min" else -1.0

    def __str__(self) -> str:
        return f"{self.metric}:{self.direction}"


_OPS = {"<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt}
_CONSTRAINT_RE = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*(<=|>=|<|>)\s*([-+0-9.eE]+)\s*$")


@dataclass(frozen=True)
class Constraint:
    """A bound on one metric: ``metric op bound`` with op one of <=, >=, <, >."""

    metric: str
    op: str
    bound: float

    @classmethod
    def parse(cls, text: str) -> Constraint:
        m = _CONSTRAINT_RE.match(text)
        if not m:
            raise ConfigError(
                f"constraint {text!r}: expected 'METRIC OP NUMBER' with OP one of {list(_OPS)}, e.g. 'latency_ms <= 5'"
            )
        try:
            bound = float(m.group(3))
        except ValueError:
            raise ConfigError(f"constraint {text!r}: {m.group(3)!r} is not a number") from None
        return cls(m.group(1), m.group(2), bound)

    def satisfied(self, metrics: dict) -> bool:
        value = metrics.get(self.metric)
        if value is None or not math.isfinite(value):
            return False
        return bool(_OPS[self.op](value, self.bound))

    def violation(self, values: np.ndarray) -> np.ndarray:
        """Amount by which each value breaks the bound (0 where satisfied)."""
        values = np.asarray(values, dtype=float)
        if self.op in ("<=", "<"):
            v = values - self.bound
        else:
            v = self.bound - values
        return np.where(np.isfinite(v), np.maximum(v, 0.0), np.inf)

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.bound:g}"
