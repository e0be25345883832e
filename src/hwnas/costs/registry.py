"""Cost models by name: ``get_cost_model("accelerator", preset="eyeriss")``.

Built-in models are imported only when asked for, so a cost model whose module or optional
dependency is missing breaks only its own name; installed packages add theirs under the
entry-point group ``hwnas.cost_models``.
"""

from __future__ import annotations

from hwnas.core.registry import Registry
from hwnas.costs.base import CostModel

COST_MODELS: Registry[CostModel] = Registry("cost model", "hwnas.cost_models", {
    "count": "hwnas.costs.count:CountModel",
    "measure": "hwnas.costs.measure:MeasuredLatency",
    "lut": "hwnas.costs.lut:LookupTableModel",
    "predictor": "hwnas.costs.latency.predictor:PredictorCostModel",
    "accelerator": "hwnas.costs.accelerator:AcceleratorModel",
    "roofline": "hwnas.costs.roofline:RooflineModel",
    "size": "hwnas.costs.size:SizeModel",
}, base=CostModel)


def get_cost_model(name: str, **options) -> CostModel:
    """Build the cost model ``name`` with its constructor options (e.g. ``preset=``, ``path=``)."""
    model = COST_MODELS.create(name, **options)
    if not isinstance(model, CostModel):
        raise TypeError(f"cost model {name!r} must build a CostModel, got {type(model).__name__}")
    return model
