"""The Evaluator contract: an architecture in, a dict of named finite metrics out."""

from __future__ import annotations

from abc import ABC, abstractmethod

from hwnas.spaces.base import Arch, ChoiceSpace


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
