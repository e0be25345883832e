"""Reading a config (a YAML file or a dict) into a validated :class:`~hwnas.app.schema.Config`.

Every problem becomes one :class:`~hwnas.core.errors.ConfigError` that names the source, the
field and what is allowed there; a key of the previous schemas names where it lives now.
"""

from __future__ import annotations

import types
import typing
from pathlib import Path

import yaml
from pydantic import BaseModel, ValidationError

from hwnas.app.schema import Config, old_key_errors, resolve_paths, with_job_defaults
from hwnas.core.errors import ConfigError


def _model_of(annotation) -> type[BaseModel] | None:
    """The pydantic model inside ``annotation`` (``X``, ``X | None``, ``list[X]``), or None."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType, list):
        for arg in typing.get_args(annotation):
            found = _model_of(arg)
            if found is not None:
                return found
    return None


def format_validation_error(err: ValidationError, source: str, root: type[BaseModel] | None = None) -> str:
    """One line per problem: the field's dotted path, what is wrong, the value given; for an unknown
    field, the fields allowed there (looked up from ``root``, the model that was validated)."""
    lines = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "<top level>"
        msg = "unknown field" if e["type"] == "extra_forbidden" else e["msg"]
        if e["type"] == "extra_forbidden" and root is not None:
            parent: type[BaseModel] | None = root
            for part in e["loc"][:-1]:
                if parent is None or isinstance(part, int):
                    continue  # a list index: stay on the list's item model
                field = parent.model_fields.get(str(part))
                parent = _model_of(field.annotation) if field is not None else None
            if parent is not None:
                msg += f"; allowed fields: {sorted(parent.model_fields)}"
        got = e.get("input")
        lines.append(f"{loc}: {msg}" + (f" (got {got!r})" if e["type"] not in ("missing", "extra_forbidden")
                                          and not isinstance(got, dict) else ""))
    return f"{source}: invalid configuration:\n  " + "\n  ".join(lines)


def read_yaml(path: str | Path) -> dict:
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"config {path}: file not found")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise ConfigError(f"config {path}: not valid YAML: {e}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"config {path}: expected a mapping at the top level, got {type(raw).__name__}")
    return raw


def parse_config(raw: dict, source: str = "config", base: str | Path | None = None) -> Config:
    """Validate a config mapping; relative paths become relative to ``base`` (default: the working directory)."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level, got {type(raw).__name__}")
    old = old_key_errors(raw)
    if old:
        raise ConfigError(f"{source}: invalid configuration:\n  " + "\n  ".join(old))
    try:
        cfg = Config.model_validate(with_job_defaults(raw))
    except ValidationError as e:
        raise ConfigError(format_validation_error(e, source, Config)) from None
    except ConfigError as e:
        raise ConfigError(f"{source}: {e}") from None
    if cfg.evaluator is None and not cfg.targets:
        raise ConfigError(f"{source}: invalid configuration:\n  evaluator: needed (or at least one entry in targets)")
    resolve_paths(cfg, Path(base).resolve() if base is not None else Path.cwd())
    return cfg


def load_config(source: str | Path | dict | Config, base: str | Path | None = None) -> Config:
    """A validated config from a YAML file (paths relative to it), a dict or a Config (returned as is)."""
    if isinstance(source, Config):
        return source
    if isinstance(source, dict):
        return parse_config(source, "config", base)
    path = Path(source)
    return parse_config(read_yaml(path), str(path), path.resolve().parent)
