"""The Evaluator contract: an architecture in, a dict of named finite metrics out, each of a declared kind.

Every metric is a *quality* (what a network achieves: accuracy, a score) or a *cost* (what running it
takes: latency, energy, memory, size), and a cost has a unit. A strategy reads these declarations
(:meth:`Evaluator.metric_kinds`) instead of guessing from an objective's direction: a cost is a sum
of executed work and is modelled in its own units, a quality is not.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass

from hwnas.core.errors import ConfigError
from hwnas.spaces.base import Arch, ChoiceSpace

QUALITY, COST = "quality", "cost"

#: metric-name suffixes that name a unit, and the unit: a metric named ``..._ms`` is a cost in ms
UNIT_SUFFIXES = {
    "ms": "ms", "us": "us", "s": "s", "mj": "mJ", "uj": "uJ", "j": "J", "mw": "mW", "w": "W",
    "b": "B", "kb": "kB", "mb": "MB", "bytes": "B", "cycles": "cycles", "macs": "MAC", "mmacs": "MMAC",
    "flops": "FLOP", "mflops": "MFLOP", "params": "count",
}
#: name parts that make a metric without a unit suffix a cost (e.g. ``latency``, ``model_size``)
COST_WORDS = frozenset({"latency", "lat", "energy", "power", "memory", "size", "cost", "time", "params",
                        "macs", "flops", "bytes", "cycles"})


@dataclass(frozen=True)
class MetricKind:
    """What a metric measures: ``kind`` is ``"quality"`` or ``"cost"``; ``unit`` names a cost's unit ("" unknown)."""

    kind: str
    unit: str = ""

    def __post_init__(self):
        if self.kind not in (QUALITY, COST):
            raise ConfigError(f"metric kind {self.kind!r} not allowed; choose {QUALITY!r} or {COST!r}")

    @property
    def is_cost(self) -> bool:
        return self.kind == COST


def kind_from_name(name: str) -> MetricKind:
    """The kind a metric's name declares, for evaluators that hold named columns (a table).

    Rule: the name's parts are split on ``_``; a last part that names a unit (:data:`UNIT_SUFFIXES`:
    ``pi5_onnx_latency_ms``, ``energy_mj``, ``params``) makes a cost in that unit; otherwise any part in
    :data:`COST_WORDS` (``latency``, ``model_size``, ``cost``) makes a cost of unknown unit; every other
    name (``cifar10_acc``, ``accuracy``, ``score``) is a quality.
    """
    parts = name.lower().replace("-", "_").split("_")
    if parts[-1] in UNIT_SUFFIXES:
        return MetricKind(COST, UNIT_SUFFIXES[parts[-1]])
    if COST_WORDS.intersection(parts):
        return MetricKind(COST)
    return MetricKind(QUALITY)


def kinds_by_name(metrics: Iterable[str]) -> dict[str, MetricKind]:
    """:func:`kind_from_name` of every metric."""
    return {m: kind_from_name(m) for m in metrics}


class Evaluator(ABC):
    """Maps an architecture to named metrics.

    Quality evaluators (a table, a supernet) and cost models are both
    evaluators; objectives pick metrics by name. Raise
    :class:`hwnas.core.errors.EvaluationFailed` for a failure the study should record
    and move past (a NaN, a crashed measurement).
    """

    #: names of the metrics :meth:`evaluate` returns
    metrics: tuple[str, ...] = ()

    def bind(self, space: ChoiceSpace) -> None:  # noqa: B027 - optional hook
        """Called once with the study's space before the first evaluation."""

    def metric_kinds(self) -> dict[str, MetricKind]:
        """The kind (quality or cost) and unit of each metric in :attr:`metrics`.

        The base reads them from the names (:func:`kind_from_name`); an evaluator that knows better
        (a cost model knows its units, a supernet measures quality) overrides this.
        """
        return kinds_by_name(self.metrics)

    @abstractmethod
    def evaluate(self, arch: Arch) -> dict[str, float]:
        """Metrics of one (validated, canonical) architecture."""

    def catalog(self):
        """Gene rows of every architecture this evaluator holds measurements for, in its order, or None.

        A table returns its rows: the order can matter (NB201 tables time each isomorphism
        class once, on its first-listed member; see :mod:`hwnas.strategies.cost_views`).
        """
        return None

    def describe(self) -> dict:
        """JSON description stored with a study, to refuse resuming with another evaluator."""
        return {"type": type(self).__name__}


class CombinedEvaluator(Evaluator):
    """Runs several evaluators and merges their metrics (e.g. accuracy + measured latency)."""

    def __init__(self, evaluators: list[Evaluator]):
        self.evaluators = list(evaluators)
        self.metrics = tuple(m for e in self.evaluators for m in e.metrics)

    def bind(self, space: ChoiceSpace) -> None:
        for e in self.evaluators:
            e.bind(space)

    def metric_kinds(self) -> dict[str, MetricKind]:
        kinds: dict[str, MetricKind] = {}
        for e in self.evaluators:
            kinds.update(e.metric_kinds())
        return kinds

    def catalog(self):
        for e in self.evaluators:
            rows = e.catalog()
            if rows is not None:
                return rows
        return None

    def evaluate(self, arch: Arch) -> dict[str, float]:
        out: dict[str, float] = {}
        for e in self.evaluators:
            out.update(e.evaluate(arch))
        return out

    def describe(self) -> dict:
        return {"type": "combined", "parts": [e.describe() for e in self.evaluators]}
