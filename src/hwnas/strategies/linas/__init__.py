"""The default strategy in parts: surrogates per metric (:mod:`.models`), candidate generation
(:mod:`.candidates`), batch acquisition by expected hypervolume improvement (:mod:`.acquisition`),
and the strategy composing them (:mod:`.strategy`)."""

from hwnas.strategies.linas.strategy import LinasStrategy

__all__ = ["LinasStrategy"]
