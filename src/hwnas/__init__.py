"""hwnas: hardware-aware neural architecture search.

Train a weight-sharing super-network once, search its sub-networks for the
Pareto front of quality vs hardware cost, and cost them on any hardware.

The Python API (imported on first use, so ``import hwnas`` stays light):

- :func:`hwnas.run` (config file or dict -> :class:`SearchResult`, as ``hwnas search``);
- :func:`hwnas.search` (space, evaluator, objectives, strategy objects -> a finished :class:`Study`);
- :func:`hwnas.train` (a train-once config -> its trained supernet checkpoint, on N processes; as ``hwnas train``);
- :func:`hwnas.pick` (an output folder + bounds -> the best front member, its model copied; as ``hwnas pick``);
- :func:`hwnas.load_config` (a validated :class:`Config`), :class:`Study`.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_LAZY = {
    "run": "hwnas.app.api:run",
    "search": "hwnas.app.api:search",
    "train": "hwnas.app.api:train",
    "pick": "hwnas.app.pick:pick",
    "load_config": "hwnas.app.config:load_config",
    "Config": "hwnas.app.schema:Config",
    "SearchResult": "hwnas.app.result:SearchResult",
    "Study": "hwnas.study:Study",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'hwnas' has no attribute {name!r}")
    module, _, attr = target.partition(":")
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
