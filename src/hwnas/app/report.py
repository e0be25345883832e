"""An HTML report of a stored study (``hwnas report``)."""

from __future__ import annotations

import csv
import os
from pathlib import Path

from hwnas.core.errors import ConfigError


def write_study_report(storage: str | Path, out: str | Path, study: str | None = None) -> Path:
    """Write the report of study ``study`` (default: the only one stored) in ``storage`` (a file or URL) to ``out``.

    Beside a study file written by a train-once search, the study's ``front.csv`` (in the folder
    :func:`~hwnas.app.study_folder.study_dir` names) says which model file each front member was
    exported to; the report links them relative to ``out``.
    """
    from hwnas.report.html import write_report
    from hwnas.storage import SQLStorage

    storage = str(storage)
    if "://" not in storage and not Path(storage).exists():
        raise ConfigError(f"--storage {storage}: file not found")
    store = SQLStorage(storage)
    names = sorted(store.studies())
    if study is None:
        if len(names) != 1:
            raise ConfigError(f"--study is needed: {storage} holds {names or 'no studies'}")
        study = names[0]
    elif study not in names:
        raise ConfigError(f"--study {study!r}: not in {storage}; it holds {names or 'no studies'}")
    models = exported_models(Path(storage).parent, study, Path(out)) if "://" not in storage else {}
    return write_report(store, study, out, models)


def exported_models(folder: Path, study: str, out: Path) -> dict[str, str]:
    """Architecture text -> model file (relative to ``out``'s folder) from the ``front.csv`` that study
    ``study`` wrote beside its study file in ``folder``; empty when there is none."""
    from hwnas.app.study_folder import study_dir

    try:
        front = study_dir(folder, study) / "front.csv"
    except ConfigError:  # a name no train-once study can have: it wrote no front folder
        return {}
    if not front.is_file():
        return {}
    with front.open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if r.get("arch") and r.get("model")]
    base = Path(out).resolve().parent
    return {r["arch"]: os.path.relpath((front.parent / r["model"]).resolve(), base) for r in rows}
