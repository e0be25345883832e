"""Cost models by name: ``get_cost_model("accelerator", preset="eyeriss")``.

Each name maps to a module and class imported only when asked for, so a cost
model whose module or optional dependency is missing breaks only its own name,
with an error saying which module failed, never the others.
"""

from __future__ import annotations

import importlib

from hwnas.core.errors import ConfigError
from hwnas.costs.base import CostModel

#: name -> (module, class)
COST_MODELS: dict[str, tuple[str, str]] = {
    "count": ("hwnas.costs.count", "CountModel"),
    "measure": ("hwnas.costs.measure", "MeasuredLatency"),
    "lut": ("hwnas.costs.lut", "LookupTableModel"),
    "predictor": ("hwnas.costs.latency.predictor", "PredictorCostModel"),
    "accelerator": ("hwnas.costs.accelerator", "AcceleratorModel"),
    "roofline": ("hwnas.costs.roofline", "RooflineModel"),
}


def available_cost_models() -> list[str]:
    """Every registered name (whether or not its module imports here)."""
    return sorted(COST_MODELS)


def cost_model_class(name: str) -> type[CostModel]:
    """The class registered under ``name``; a clear ConfigError if the name or its module is missing."""
    try:
        module_name, class_name = COST_MODELS[name]
    except KeyError:
        raise ConfigError(f"cost model {name!r} unknown; available {available_cost_models()}") from None
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise ConfigError(f"cost model {name!r} is unavailable: importing {module_name} failed ({e})") from e
    cls = getattr(module, class_name, None)
    if cls is None:
        # tolerate a differently named class: the one CostModel subclass whose ``name`` matches
        found = [v for v in vars(module).values()
                 if isinstance(v, type) and issubclass(v, CostModel) and v is not CostModel
                 and getattr(v, "name", None) == name and v.__module__ == module.__name__]
        if len(found) != 1:
            raise ConfigError(f"cost model {name!r}: {module_name} defines no class {class_name}")
        cls = found[0]
    return cls


def get_cost_model(name: str, **options) -> CostModel:
    """Build the cost model ``name`` with its constructor options (e.g. ``preset=``, ``path=``)."""
    cls = cost_model_class(name)
    try:
        return cls(**options)
    except TypeError as e:
        raise ConfigError(f"cost model {name!r}: bad options {sorted(options)}: {e}") from e
