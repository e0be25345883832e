"""The CostModel contract: a network (layer list and/or a buildable model) in, named costs with units out.

Every hardware target, from counted MACs to a measured device to an analytical
accelerator, is a CostModel chosen by name; :class:`CostEvaluator` turns one into
an :class:`~hwnas.evaluators.base.Evaluator` for a space that can describe its
architectures as a :class:`Workload`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from hwnas.core.layers import Workload


class CostModel(ABC):
    """Costs a workload. Subclasses set ``name`` and ``units`` (metric -> unit)."""

    name: str = "cost"
    units: dict[str, str] = {}

    @property
    def metrics(self) -> tuple[str, ...]:
        return tuple(self.units)

    @abstractmethod
    def cost(self, workload: Workload) -> dict[str, float]:
        """Costs of one workload. Raise CostModelError naming any layer it cannot cost."""

    def describe(self) -> dict:
        return {"cost_model": self.name}
