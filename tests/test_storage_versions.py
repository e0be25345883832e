"""Stored studies carry their schema version; a study of another version is refused by name, never misread."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from hwnas.core.errors import StudyMismatch
from hwnas.storage import STUDY_SCHEMA, SQLStorage

#: written by the pre-restructure hwnas (no schema_version column): study "schema1", 6 random NB201 trials
SCHEMA1_DB = Path(__file__).parent / "data" / "study_schema1.db"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_study_written_before_schema_versions_is_refused_naming_its_version(tmp_path):
    db = tmp_path / "old.db"
    shutil.copy(SCHEMA1_DB, db)
    before = _sha(db)
    storage = SQLStorage(db)
    assert list(storage.studies()) == ["schema1"]  # the names can still be listed, to say what is there
    with pytest.raises(StudyMismatch, match=r"'schema1' .* older hwnas \(study schema 1; this hwnas reads schema "
                                            rf"{STUDY_SCHEMA}\).*new storage file"):
        storage.load_study("schema1")
    with pytest.raises(StudyMismatch, match="study schema 1"):
        storage.open_study("schema1", storage.studies()["schema1"])
    with pytest.raises(StudyMismatch, match=r"older hwnas \(study schema 1, studies \['schema1'\].*new storage file"):
        storage.open_study("fresh", {"space": {"name": "nb201"}})
    storage.engine.dispose()
    assert _sha(db) == before  # the old file is left as it was


def test_a_new_study_stores_the_current_version_and_reopens(tmp_path):
    db = tmp_path / "new.db"
    fp = {"space": {"name": "nb201"}, "seed": 0}
    SQLStorage(db).open_study("s", fp)
    storage = SQLStorage(db)
    assert storage.load_study("s") == fp
    with storage.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT schema_version FROM hwnas_studies")).scalar_one() == STUDY_SCHEMA


def test_a_study_of_a_newer_version_is_refused(tmp_path):
    db = tmp_path / "newer.db"
    storage = SQLStorage(db)
    storage.open_study("s", {"seed": 0})
    with storage.engine.begin() as conn:
        conn.execute(sa.text("UPDATE hwnas_studies SET schema_version = :v"), {"v": STUDY_SCHEMA + 1})
    with pytest.raises(StudyMismatch, match=rf"newer hwnas \(study schema {STUDY_SCHEMA + 1}.*upgrade hwnas"):
        SQLStorage(db).load_study("s")
