"""Persistent study records: in memory, or any SQLAlchemy database (SQLite file by default, PostgreSQL by URL).

Contract (every backend honours it):
- a study is identified by name and carries a *fingerprint* (space, evaluator,
  objectives, constraints, strategy); re-opening it with another fingerprint is
  refused with a message listing what differs;
- each trial is written as ``running`` before it is evaluated and rewritten as
  ``complete`` or ``failed`` after, each write its own committed transaction, so
  a killed process loses at most the evaluations that were in flight; those
  stay ``running`` and are evaluated again on resume, never counted twice;
- a stored study carries the schema version it was written with
  (:data:`STUDY_SCHEMA`); one of another version is refused, for reading and
  for resuming, with a message naming its version, never read as this one.
  Databases written before versions were stored (no ``schema_version``
  column) hold schema-1 studies: their trial records are laid out as today's,
  but their fingerprints (space, evaluator, strategy descriptions) follow the
  settings of that time, so they are refused rather than misread, and the
  file is left untouched.
"""

from __future__ import annotations

import json
import time
from abc import ABC, abstractmethod
from pathlib import Path

import sqlalchemy as sa

from hwnas.core.errors import ConfigError, DataError, StudyMismatch
from hwnas.core.trial import RUNNING, Trial

#: the layout of a stored study (tables, fingerprint) this code writes and reads; 1: before versions were stored
STUDY_SCHEMA = 2


def fingerprint_diff(old: dict, new: dict, prefix: str = "") -> list[str]:
    """Human-readable differences between two JSON fingerprints."""
    diffs = []
    for k in sorted(set(old) | set(new)):
        a, b = old.get(k, "<absent>"), new.get(k, "<absent>")
        if isinstance(a, dict) and isinstance(b, dict):
            diffs += fingerprint_diff(a, b, f"{prefix}{k}.")
        elif a != b:
            diffs.append(f"{prefix}{k}: stored {json.dumps(a)} vs now {json.dumps(b)}")
    return diffs


class Storage(ABC):
    """Where a study's trials live."""

    @abstractmethod
    def open_study(self, name: str, fingerprint: dict) -> None:
        """Create the study, or check that the stored one has the same fingerprint."""

    @abstractmethod
    def studies(self) -> dict[str, dict]:
        """Every stored study's name and fingerprint."""

    def load_study(self, name: str) -> dict:
        """Open an existing study for reading; return its fingerprint."""
        known = self.studies()
        if name not in known:
            raise ConfigError(f"study {name!r} not found; stored studies: {sorted(known)}")
        self.open_study(name, known[name])
        return known[name]

    @abstractmethod
    def trials(self, name: str) -> list[Trial]:
        """All trials of the study, in creation order."""

    @abstractmethod
    def write(self, name: str, trial: Trial) -> None:
        """Insert or update one trial (keyed by its architecture key), durably."""

    @abstractmethod
    def delete_running(self, name: str) -> list[Trial]:
        """Remove trials left ``running`` by an interrupted process; return them."""


class InMemoryStorage(Storage):
    """Keeps trials in a dict; for benchmarks and tests."""

    def __init__(self) -> None:
        self._studies: dict[str, dict] = {}
        self._trials: dict[str, dict[str, Trial]] = {}

    def open_study(self, name: str, fingerprint: dict) -> None:
        if name in self._studies:
            diffs = fingerprint_diff(self._studies[name], fingerprint)
            if diffs:
                raise StudyMismatch(f"study {name!r} was created with another configuration: " + "; ".join(diffs))
        else:
            self._studies[name] = fingerprint
            self._trials[name] = {}

    def studies(self) -> dict[str, dict]:
        return dict(self._studies)

    def trials(self, name: str) -> list[Trial]:
        return sorted(self._trials[name].values(), key=lambda t: t.number)

    def write(self, name: str, trial: Trial) -> None:
        self._trials[name][trial.key] = Trial(**vars(trial))

    def delete_running(self, name: str) -> list[Trial]:
        gone = [t for t in self._trials[name].values() if t.state == RUNNING]
        for t in gone:
            del self._trials[name][t.key]
        return gone


_meta = sa.MetaData()
_studies = sa.Table(
    "hwnas_studies",
    _meta,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("fingerprint", sa.Text, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("schema_version", sa.Integer, nullable=False),
)
_trials = sa.Table(
    "hwnas_trials",
    _meta,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("study_id", sa.Integer, sa.ForeignKey("hwnas_studies.id"), nullable=False),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("key", sa.Text, nullable=False),
    sa.Column("arch", sa.Text, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("metrics", sa.Text, nullable=False),
    sa.Column("error", sa.Text),
    sa.Column("duration_s", sa.Float, nullable=False, default=0.0),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.UniqueConstraint("study_id", "key", name="uq_trial_key"),
)


def storage_url(spec: str | Path) -> str:
    """A plain path becomes a SQLite URL; URLs (``sqlite:///``, ``postgresql://``...) pass through."""
    spec = str(spec)
    if "://" in spec:
        return spec
    path = Path(spec).expanduser()
    if path.suffix.lower() not in (".db", ".sqlite", ".sqlite3"):
        raise ConfigError(f"storage {spec!r}: a file path must end in .db, .sqlite or .sqlite3, or give a database URL")
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


class SQLStorage(Storage):
    """Trials in a relational database through SQLAlchemy; SQLite by file path, anything else by URL."""

    def __init__(self, spec: str | Path):
        self.url = storage_url(spec)
        self.engine = sa.create_engine(self.url)
        if self.engine.dialect.name == "sqlite":
            @sa.event.listens_for(self.engine, "connect")
            def _pragmas(dbapi_conn, _record):  # durability on kill -9, readers beside the writer
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=FULL")
                cur.close()
        try:
            _meta.create_all(self.engine)
            columns = {c["name"] for c in sa.inspect(self.engine).get_columns(_studies.name)}
        except sa.exc.DatabaseError as e:
            raise ConfigError(f"storage {spec}: not a usable database: {e.orig}") from None
        # a database from before schema versions were stored: its studies are schema 1 (refused, never altered)
        self._unversioned = "schema_version" not in columns
        self._ids: dict[str, int] = {}

    def _refuse_version(self, name: str, version: int) -> None:
        if version < STUDY_SCHEMA:
            raise StudyMismatch(
                f"study {name!r} in {self.url} was written by an older hwnas (study schema {version}; this hwnas "
                f"reads schema {STUDY_SCHEMA}); its settings are stored in an older form and are not read, so as not "
                "to misread them. Run the search again into a new storage file (or another database), or read this "
                "one with the hwnas release that wrote it.")
        raise StudyMismatch(f"study {name!r} in {self.url} was written by a newer hwnas (study schema {version}; "
                            f"this hwnas reads schema {STUDY_SCHEMA}); upgrade hwnas to read or resume it.")

    def open_study(self, name: str, fingerprint: dict) -> None:
        if self._unversioned:
            known = self.studies()
            if name in known:
                self._refuse_version(name, 1)
            raise StudyMismatch(f"storage {self.url} was written by an older hwnas (study schema 1, studies "
                                f"{sorted(known)}; this hwnas writes schema {STUDY_SCHEMA}); it is left as it is: "
                                "write new studies into a new storage file.")
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(_studies).where(_studies.c.name == name)).first()
            if row is None:
                res = conn.execute(
                    _studies.insert().values(name=name, fingerprint=json.dumps(fingerprint, sort_keys=True),
                                             created_at=time.time(), schema_version=STUDY_SCHEMA)
                )
                self._ids[name] = int(res.inserted_primary_key[0])
                return
            if row.schema_version != STUDY_SCHEMA:
                self._refuse_version(name, int(row.schema_version))
            diffs = fingerprint_diff(json.loads(row.fingerprint), json.loads(json.dumps(fingerprint)))
            if diffs:
                raise StudyMismatch(
                    f"study {name!r} in {self.url} was created with another configuration: " + "; ".join(diffs)
                    + ". Use another study name or storage file to start afresh."
                )
            self._ids[name] = int(row.id)

    def studies(self) -> dict[str, dict]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(_studies.c.name, _studies.c.fingerprint)).all()  # every schema has both
        return {r.name: json.loads(r.fingerprint) for r in rows}

    def _sid(self, name: str) -> int:
        if name not in self._ids:
            raise KeyError(f"study {name!r} is not open")
        return self._ids[name]

    def trials(self, name: str) -> list[Trial]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(_trials).where(_trials.c.study_id == self._sid(name)).order_by(_trials.c.number)
            ).all()
        return [
            Trial(number=r.number, key=r.key, arch=self._json(r.arch, name, r.number, "arch"), state=r.state,
                  metrics=self._json(r.metrics, name, r.number, "metrics"), error=r.error, duration_s=r.duration_s)
            for r in rows
        ]

    def _json(self, text: str, name: str, number: int, column: str):
        """A stored JSON field; a damaged one (a tampered or truncated database) is refused naming where it is."""
        try:
            return json.loads(text)
        except (TypeError, json.JSONDecodeError) as e:
            raise DataError(f"storage {self.url}: study {name!r}, trial {number}: {column} is not valid JSON ({e}); "
                            "the database is damaged") from None

    def write(self, name: str, trial: Trial) -> None:
        sid = self._sid(name)
        values = dict(number=trial.number, arch=json.dumps(trial.arch, sort_keys=True), state=trial.state,
                      metrics=json.dumps(trial.metrics), error=trial.error, duration_s=trial.duration_s,
                      updated_at=time.time())
        with self.engine.begin() as conn:
            res = conn.execute(
                _trials.update().where((_trials.c.study_id == sid) & (_trials.c.key == trial.key)).values(**values)
            )
            if res.rowcount == 0:
                conn.execute(_trials.insert().values(study_id=sid, key=trial.key, **values))

    def delete_running(self, name: str) -> list[Trial]:
        gone = [t for t in self.trials(name) if t.state == RUNNING]
        if gone:
            with self.engine.begin() as conn:
                conn.execute(
                    _trials.delete().where((_trials.c.study_id == self._sid(name)) & (_trials.c.state == RUNNING))
                )
        return gone


def open_storage(spec: str | Path | None) -> Storage:
    """``None`` -> in memory; a path or URL -> SQL storage."""
    return InMemoryStorage() if spec is None else SQLStorage(spec)
