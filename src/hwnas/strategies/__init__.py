"""Search strategies behind one ask/tell interface, found by name.

``get_strategy("linas")`` builds the default predictor-guided strategy;
``available_strategies()`` lists every registered name. Third-party code adds
its own with ``register_strategy(name, cls)``.
"""

from __future__ import annotations

import importlib

from hwnas.core.errors import ConfigError
from hwnas.strategies.base import Strategy

#: the strategy a study uses when none is named
DEFAULT_STRATEGY = "linas"

_BUILTIN = {
    "random": "hwnas.strategies.random:RandomSearch",
    "evolution": "hwnas.strategies.evolution:RegularizedEvolution",
    "nsga2": "hwnas.strategies.nsga2:NSGA2",
    "linas": "hwnas.strategies.linas:LinasStrategy",
}
_REGISTRY: dict[str, type[Strategy]] = {}


def register_strategy(name: str, cls: type[Strategy]) -> None:
    """Make ``cls`` available as ``get_strategy(name)``."""
    if not (isinstance(cls, type) and issubclass(cls, Strategy)):
        raise TypeError(f"strategy {name!r} must be a Strategy subclass, got {cls!r}")
    _REGISTRY[name] = cls


def available_strategies() -> list[str]:
    """Names accepted by :func:`get_strategy`."""
    return sorted(set(_BUILTIN) | set(_REGISTRY))


def get_strategy(name: str, **options) -> Strategy:
    """A fresh strategy by name, built with ``options`` (its constructor's keyword arguments)."""
    cls = _REGISTRY.get(name)
    if cls is None:
        target = _BUILTIN.get(name)
        if target is None:
            raise ConfigError(f"strategy {name!r} is not known; choose one of {available_strategies()}")
        module, attr = target.split(":")
        cls = getattr(importlib.import_module(module), attr)
    try:
        return cls(**options)
    except TypeError as e:
        raise ConfigError(f"strategy {name!r}: bad options {sorted(options)}: {e}") from None


__all__ = ["DEFAULT_STRATEGY", "Strategy", "available_strategies", "get_strategy", "register_strategy"]
