"""Plain data in and out: JSON files written atomically and read with errors that name the file,
and dataclasses built from dicts that refuse unknown fields. Nothing here unpickles anything."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import fields
from pathlib import Path
from typing import Any

from hwnas.core.errors import ConfigError, DataError


def write_json(path: str | Path, data: Any, indent: int | None = 1) -> Path:
    """Write ``data`` as JSON; the file is replaced whole, so a crash never leaves half of it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=indent)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_json(path: str | Path, what: str, missing_hint: str = "") -> Any:
    """Read a JSON file; ``what`` names it in errors (e.g. "latency table")."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{what} {path}: not found" + (f" ({missing_hint})" if missing_hint else ""))
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DataError(f"{what} {path}: not JSON: {e}") from None


def dataclass_from_dict(cls, d: dict, what: str):
    """``cls(**d)``, refusing keys that are not fields of ``cls`` with the allowed ones listed."""
    known = {f.name for f in fields(cls)}
    bad = sorted(set(d) - known)
    if bad:
        raise ConfigError(f"{what}: unknown field(s) {bad}; allowed {sorted(known)}")
    return cls(**d)
