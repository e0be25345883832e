"""Registries: the one way a plug-in point (space, dataset, strategy, evaluator, cost model, surrogate,
compression step, executor) finds its entries by name.

A registry knows three kinds of entries:

- **built-in** entries, given as ``"module:attribute"`` strings and imported only when first asked for,
  so an entry whose optional dependency is missing breaks only its own name;
- entries **registered in code** (``@SPACES.register("toy")`` above a class or factory);
- entries of **installed packages**, declared in their metadata under the registry's entry-point
  group (``[project.entry-points."hwnas.spaces"] toy = "toy_pkg.space:ToySpace"``), so a user's
  package adds a space, a cost model or a strategy without editing hwnas.

``create(name, **options)`` builds an entry; a wrong option is a :class:`ConfigError` naming the
entry and the options it accepts.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from importlib import metadata
from typing import Any, Generic, TypeVar

from hwnas.core.errors import ConfigError

T = TypeVar("T")

class Registry(Generic[T]):
    """Names -> classes or factories of one kind of component.

    ``kind`` names the component in messages ("space", "cost model"); ``group`` is the
    entry-point group third-party packages declare their entries in; ``base``, when given, is
    the class every registered class must derive from.
    """

    def __init__(self, kind: str, group: str, builtins: dict[str, str] | None = None, base: type | None = None):
        self.kind = kind
        self.group = group
        self.base = base
        self._builtins = dict(builtins or {})
        self._entries: dict[str, Callable[..., T]] = {}

    # ------------------------------------------------------------------ adding entries
    def register(self, name: str, obj: Callable[..., T] | None = None):
        """Register ``obj`` under ``name``; without ``obj``, a decorator that registers what it decorates."""
        if not name or not isinstance(name, str):
            raise ValueError(f"{self.kind} name must be a non-empty string, got {name!r}")

        def add(target: Callable[..., T]) -> Callable[..., T]:
            if not callable(target):
                raise TypeError(f"{self.kind} {name!r}: expected a class or factory, got {target!r}")
            if self.base is not None and isinstance(target, type) and not issubclass(target, self.base):
                raise TypeError(f"{self.kind} {name!r}: {target.__name__} is not a {self.base.__name__}")
            self._entries[name] = target
            return target

        return add if obj is None else add(obj)

    def unregister(self, name: str) -> None:
        """Forget an entry registered in code (tests use it to clean up)."""
        self._entries.pop(name, None)

    # ------------------------------------------------------------------ looking up
    def _entry_points(self) -> dict[str, metadata.EntryPoint]:
        return {ep.name: ep for ep in metadata.entry_points(group=self.group)}

    def available(self) -> list[str]:
        """Every name this registry answers to (built-in, registered, or from installed packages)."""
        return sorted(set(self._builtins) | set(self._entries) | set(self._entry_points()))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self.available()

    def get(self, name: str) -> Callable[..., T]:
        """The class or factory registered as ``name`` (imported on first use)."""
        if name in self._entries:
            return self._entries[name]
        if name in self._builtins:
            target = self._builtins[name]
            module, _, attr = target.partition(":")
            try:
                obj = getattr(importlib.import_module(module), attr)
            except ImportError as e:
                raise ConfigError(f"{self.kind} {name!r} is unavailable: importing {module} failed ({e})") from e
            self._entries[name] = obj
            return obj
        eps = self._entry_points()
        if name in eps:
            try:
                obj = eps[name].load()
            except Exception as e:  # a broken plug-in must name itself, not crash with a bare traceback
                raise ConfigError(f"{self.kind} {name!r} from entry point {eps[name].value!r} "
                                  f"(group {self.group}) failed to load: {e}") from e
            self._entries[name] = obj
            return obj
        raise ConfigError(f"unknown {self.kind} {name!r}; allowed: {self.available()}")

    def create(self, name: str, /, **options: Any) -> T:
        """Build entry ``name`` with ``options`` (its constructor's keyword arguments)."""
        factory = self.get(name)
        bad = unknown_options(factory, options)
        if bad:
            raise ConfigError(f"{self.kind} {name!r}: unknown option(s) {bad}; allowed: {accepted_options(factory)}")
        try:
            return factory(**options)
        except TypeError as e:
            raise ConfigError(f"{self.kind} {name!r}: bad options {sorted(options)}: {e}; "
                              f"allowed: {accepted_options(factory)}") from None


def _parameters(factory: Callable) -> list[inspect.Parameter] | None:
    try:
        sig = inspect.signature(factory)
    except (TypeError, ValueError):
        return None
    return list(sig.parameters.values())


def accepted_options(factory: Callable) -> list[str]:
    """Keyword options ``factory`` takes (its named parameters; empty when it takes only ``**kwargs``)."""
    params = _parameters(factory) or []
    return [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


def unknown_options(factory: Callable, options: dict) -> list[str]:
    """Options ``factory`` would not accept (none when it takes ``**kwargs`` or has no signature)."""
    params = _parameters(factory)
    if params is None or any(p.kind == p.VAR_KEYWORD for p in params):
        return []
    return sorted(set(options) - set(accepted_options(factory)))
