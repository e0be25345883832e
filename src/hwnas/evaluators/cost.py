"""A hardware cost model as an evaluator: costs of an architecture from its layer list (``workload``)."""

from __future__ import annotations

from hwnas.core.errors import ConfigError
from hwnas.costs.base import CostModel
from hwnas.costs.registry import get_cost_model
from hwnas.evaluators.base import COST, Evaluator, MetricKind
from hwnas.spaces.protocols import is_costable


class CostEvaluator(Evaluator):
    """Adapts a CostModel to the Evaluator contract, for costable spaces (:class:`~hwnas.spaces.protocols.CostableSpace`)."""

    def __init__(self, model: CostModel, prefix: str = ""):
        self.model = model
        self.prefix = prefix
        self.metrics = tuple(prefix + m for m in model.metrics)
        self._space = None

    def metric_kinds(self) -> dict[str, MetricKind]:
        """Every metric of a cost model is a cost, in the unit the model declares (``CostModel.units``)."""
        return {self.prefix + m: MetricKind(COST, self.model.units.get(m, "")) for m in self.model.metrics}

    def bind(self, space) -> None:
        if not is_costable(space):
            raise TypeError(f"space {space.name!r} cannot describe its architectures as layers (no workload())")
        self._space = space

    def evaluate(self, arch) -> dict[str, float]:
        if self._space is None:
            raise RuntimeError("CostEvaluator.bind(space) must be called before evaluate()")
        costs = self.model.cost(self._space.workload(arch))
        return {self.prefix + k: float(v) for k, v in costs.items()}

    def describe(self) -> dict:
        return {"type": "cost", "prefix": self.prefix, **self.model.describe()}


def target_evaluator(model: str, options: dict, prefix: str, space) -> CostEvaluator:
    """A config's hardware target: the cost model ``model`` as an evaluator of ``space``.

    The space must describe its architectures as layer lists (``workload()``);
    metric names get ``prefix`` so two targets (say two accelerators) can sit side by side.
    """
    if not is_costable(space):
        raise ConfigError(
            f"targets: cost model {model!r} needs layer lists, but space {space.name!r} has none; "
            "use a trainable space (for NB201 strings: nb201_net)"
        )
    return CostEvaluator(get_cost_model(model, **options), prefix=prefix)
