"""Where a train-once study writes its front: the output folder for the default study, a sub-folder for any other.

One output folder holds one supernet (``supernet.safetensors``) and one ``study.db``; every study
searched on that supernet (another objective, constraint or target) is a study of its own name in
``study.db`` and writes ``front.csv``, ``front.json``, ``front.png`` and ``models/`` into
``OUT/<name>/``, so no study overwrites another's front. The default study (``supernet``) writes
them into ``OUT`` itself.
"""

from __future__ import annotations

import re
from pathlib import Path

from hwnas.app.schema import TRAIN_ONCE_DEFAULTS
from hwnas.core.errors import ConfigError

#: the train-once job's default study; its outputs go straight into the output folder
DEFAULT_STUDY: str = TRAIN_ONCE_DEFAULTS["study"]["name"]
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
#: names that are folders of the default study's outputs
_RESERVED = ("models",)


def study_dir(out: str | Path, name: str | None) -> Path:
    """The folder study ``name`` writes its front into: ``out`` for the default study (or None), else ``out/name``."""
    if name is None or name == DEFAULT_STUDY:
        return Path(out)
    if not _NAME.fullmatch(name) or name in _RESERVED:
        raise ConfigError(f"study.name: {name!r} names the folder its front is written to (OUT/{name}); use "
                          "letters, digits, '_', '-' and '.' (starting with a letter or digit), not "
                          f"{list(_RESERVED)}")
    return Path(out) / name


def studies_with_front(out: str | Path) -> list[str]:
    """Names of the studies in ``out`` that have written a front (the default study first)."""
    out = Path(out)
    found = [DEFAULT_STUDY] if (out / "front.csv").is_file() else []
    if out.is_dir():
        found += sorted(p.parent.name for p in out.glob("*/front.csv"))
    return found
