"""An HTML report of a stored study (``hwnas report``)."""

from __future__ import annotations

from pathlib import Path

from hwnas.core.errors import ConfigError


def write_study_report(storage: str | Path, out: str | Path, study: str | None = None) -> Path:
    """Write the report of study ``study`` (default: the only one stored) in ``storage`` (a file or URL) to ``out``."""
    from hwnas.report.html import write_report
    from hwnas.storage import SQLStorage

    storage = str(storage)
    if "://" not in storage and not Path(storage).exists():
        raise ConfigError(f"--storage {storage}: file not found")
    store = SQLStorage(storage)
    if study is None:
        names = sorted(store.studies())
        if len(names) != 1:
            raise ConfigError(f"--study is needed: {storage} holds {names or 'no studies'}")
        study = names[0]
    return write_report(store, study, out)
