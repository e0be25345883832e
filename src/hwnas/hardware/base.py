"""The CostModel contract: a network (layer list and/or a buildable model) in, named costs with units out.

Every hardware target, from counted MACs to a measured device to an analytical
accelerator, is a CostModel chosen by name; :class:`CostEvaluator` turns one into
an :class:`~hwnas.evaluators.base.Evaluator` for a space that can describe its
architectures as a :class:`Workload`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hwnas.evaluators.base import Evaluator
from hwnas.hardware.layers import Layer


@dataclass
class Workload:
    """What a cost model may look at for one architecture.

    ``layers`` is always present; ``build`` returns a fresh ``torch.nn.Module``
    with the architecture's shape (weights irrelevant to cost) for models that
    measure; ``input_shape`` includes the batch dimension.
    """

    key: str
    layers: list[Layer]
    input_shape: tuple[int, ...]
    build: Callable[[], Any] | None = None


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


class CostEvaluator(Evaluator):
    """Adapts a CostModel to the Evaluator contract, for spaces with a ``workload(arch)`` method."""

    def __init__(self, model: CostModel, prefix: str = ""):
        self.model = model
        self.prefix = prefix
        self.metrics = tuple(prefix + m for m in model.metrics)
        self._space = None

    def bind(self, space) -> None:
        if not hasattr(space, "workload"):
            raise TypeError(f"space {space.name!r} cannot describe its architectures as layers (no workload())")
        self._space = space

    def evaluate(self, arch) -> dict[str, float]:
        if self._space is None:
            raise RuntimeError("CostEvaluator.bind(space) must be called before evaluate()")
        costs = self.model.cost(self._space.workload(arch))
        return {self.prefix + k: float(v) for k, v in costs.items()}

    def describe(self) -> dict:
        return {"type": "cost", "prefix": self.prefix, **self.model.describe()}
