"""Search strategies behind one ask/tell interface, found by name.

``get_strategy("linas")`` builds the default predictor-guided strategy; ``STRATEGIES.available()``
lists every name. Code adds its own with ``@STRATEGIES.register("mine")``, an installed package
under the entry-point group ``hwnas.strategies``.
"""

from __future__ import annotations

from hwnas.core.registry import Registry
from hwnas.strategies.base import Strategy

#: the strategy a study uses when none is named
DEFAULT_STRATEGY = "linas"

STRATEGIES: Registry[Strategy] = Registry("strategy", "hwnas.strategies", {
    "random": "hwnas.strategies.random:RandomSearch",
    "evolution": "hwnas.strategies.evolution:RegularizedEvolution",
    "nsga2": "hwnas.strategies.nsga2:NSGA2",
    "linas": "hwnas.strategies.linas.strategy:LinasStrategy",
}, base=Strategy)


def get_strategy(name: str, **options) -> Strategy:
    """A fresh strategy by name, built with ``options`` (its constructor's keyword arguments)."""
    strategy = STRATEGIES.create(name, **options)
    if not isinstance(strategy, Strategy):
        raise TypeError(f"strategy {name!r} must build a Strategy, got {type(strategy).__name__}")
    return strategy


__all__ = ["DEFAULT_STRATEGY", "STRATEGIES", "Strategy", "get_strategy"]
