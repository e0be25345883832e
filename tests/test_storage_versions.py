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


def _write_schema2_study(db: Path) -> dict:
    """A study database as the previous hwnas wrote it (study schema 2: no worker, heartbeat or retries
    columns): study "v2" with 8 complete trials and one left running by a killed process."""
    import json

    from study_fixtures import ProbeStrategy
    from worker_proc import OBJ, SlowFormula

    from hwnas.spaces.nb201 import NB201Space
    from hwnas.study import Study

    ref = Study(NB201Space(), SlowFormula(), OBJ, ProbeStrategy(), name="v2", seed=4)
    ref.optimize(9)
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE hwnas_studies (id INTEGER PRIMARY KEY, name VARCHAR(200) NOT NULL UNIQUE, "
                             "fingerprint TEXT NOT NULL, created_at FLOAT NOT NULL, schema_version INTEGER NOT NULL)"))
        conn.execute(sa.text("CREATE TABLE hwnas_trials (id INTEGER PRIMARY KEY, study_id INTEGER NOT NULL "
                             "REFERENCES hwnas_studies(id), number INTEGER NOT NULL, key TEXT NOT NULL, arch TEXT NOT "
                             "NULL, state VARCHAR(16) NOT NULL, metrics TEXT NOT NULL, error TEXT, duration_s FLOAT "
                             "NOT NULL, updated_at FLOAT NOT NULL, CONSTRAINT uq_trial_key UNIQUE (study_id, key))"))
        conn.execute(sa.text("INSERT INTO hwnas_studies VALUES (1, 'v2', :fp, 1.0, 2)"),
                     {"fp": json.dumps(ref.fingerprint(), sort_keys=True)})
        for t in ref.trials:
            last = t.number == 8
            conn.execute(sa.text("INSERT INTO hwnas_trials (study_id, number, key, arch, state, metrics, error, "
                                 "duration_s, updated_at) VALUES (1, :n, :k, :a, :s, :m, NULL, 0.5, 2.0)"),
                         {"n": t.number, "k": t.key, "a": json.dumps(t.arch, sort_keys=True),
                          "s": "running" if last else "complete", "m": "{}" if last else json.dumps(t.metrics)})
    engine.dispose()
    return {t.key: t for t in ref.trials}


def test_a_schema2_study_is_upgraded_in_place_and_resumes(tmp_path):
    from study_fixtures import ProbeStrategy
    from worker_proc import OBJ, SlowFormula

    from hwnas.spaces.nb201 import NB201Space
    from hwnas.study import Study

    db = tmp_path / "v2.db"
    ref = _write_schema2_study(db)
    before = sa.create_engine(f"sqlite:///{db}")
    with before.connect() as conn:
        old_rows = conn.execute(sa.text("SELECT * FROM hwnas_trials ORDER BY id")).all()
    before.dispose()
    storage = SQLStorage(db)
    with storage.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT schema_version FROM hwnas_studies")).scalar_one() == STUDY_SCHEMA
        new_rows = conn.execute(sa.text("SELECT * FROM hwnas_trials ORDER BY id")).all()
    assert [tuple(r)[:10] for r in new_rows] == [tuple(r) for r in old_rows]  # nothing recorded changed
    assert all(r.worker is None and r.heartbeat_at is None and r.retries == 0 for r in new_rows)
    SQLStorage(db)  # opening it again: already upgraded, nothing to do
    study = Study(NB201Space(), SlowFormula(), OBJ, ProbeStrategy(), storage=SQLStorage(db), name="v2", seed=4)
    assert study.n_evaluated == 8 and [t.key for t in study.interrupted] == [old_rows[-1].key]
    study.optimize(9)  # the trial the killed process left running is evaluated, as it was in the first run
    assert {t.key: t.metrics for t in study.trials} == {k: t.metrics for k, t in ref.items()}
