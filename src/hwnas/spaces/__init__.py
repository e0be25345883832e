"""Search spaces, looked up by name (``get_space("nb201")``).

Trainable spaces (which need torch) are imported only when first asked for.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from hwnas.core.errors import ConfigError
from hwnas.spaces.base import Arch, ChoiceSpace, Dimension
from hwnas.spaces.nb201 import NB201Space

_REGISTRY: dict[str, Callable[..., ChoiceSpace]] = {"nb201": NB201Space}
#: spaces registered by their own module on import
_LAZY = {
    "mobilenet": "hwnas.spaces.mobilenet",
    "nb201_net": "hwnas.spaces.nb201_net",
    "signal1d": "hwnas.spaces.signal1d",
}


def register_space(name: str, factory: Callable[..., ChoiceSpace]) -> None:
    """Make a space available by name in configs."""
    _REGISTRY[name] = factory


def get_space(name: str, **options) -> ChoiceSpace:
    if name not in _REGISTRY and name in _LAZY:
        importlib.import_module(_LAZY[name])
    if name not in _REGISTRY:
        raise ConfigError(f"space: unknown space {name!r}; available: {available_spaces()}")
    try:
        return _REGISTRY[name](**options)
    except TypeError as e:
        raise ConfigError(f"space {name!r}: bad options {options}: {e}") from None


def available_spaces() -> list[str]:
    return sorted(set(_REGISTRY) | set(_LAZY))


__all__ = ["Arch", "ChoiceSpace", "Dimension", "NB201Space", "get_space", "register_space", "available_spaces"]
