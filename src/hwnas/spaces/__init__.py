"""Search spaces, looked up by name (``get_space("nb201")``)."""

from __future__ import annotations

from collections.abc import Callable

from hwnas.errors import ConfigError
from hwnas.spaces.base import Arch, ChoiceSpace, Dimension
from hwnas.spaces.nb201 import NB201Space

_REGISTRY: dict[str, Callable[..., ChoiceSpace]] = {"nb201": NB201Space}


def register_space(name: str, factory: Callable[..., ChoiceSpace]) -> None:
    """Make a space available by name in configs."""
    _REGISTRY[name] = factory


def get_space(name: str, **options) -> ChoiceSpace:
    if name not in _REGISTRY:
        raise ConfigError(f"space: unknown space {name!r}; available: {sorted(_REGISTRY)}")
    return _REGISTRY[name](**options)


def available_spaces() -> list[str]:
    return sorted(_REGISTRY)


__all__ = ["Arch", "ChoiceSpace", "Dimension", "NB201Space", "get_space", "register_space", "available_spaces"]
