"""Persistent study records: in memory, or any SQLAlchemy database (SQLite file by default, PostgreSQL by URL).

Contract (every backend honours it):
- a study is identified by name and carries a *fingerprint* (space, evaluator,
  objectives, constraints, strategy); re-opening it with another fingerprint is
  refused with a message listing what differs;
- many workers (processes, machines) may share one study. A worker *claims* the
  architectures it is about to evaluate (:meth:`Storage.claim`): in one
  transaction, under a lock on the study's row, each one not yet recorded is
  inserted ``running`` with the worker's id and a heartbeat timestamp, up to the
  study's budget (finished plus running trials, all workers together); one
  already recorded is not claimed, so every architecture is evaluated by exactly
  one worker. The result is written with :meth:`Storage.finish`, which succeeds
  only while the trial is still that worker's: each write is its own committed
  transaction, so a killed process loses at most the evaluations in flight;
- a worker refreshes the heartbeat of its running trials while it evaluates; a
  running trial whose owner is gone (no heartbeat for the grace period, or known
  dead) is taken over by whichever worker sees it first (:meth:`Storage.requeue`,
  under the study lock), with its retries counted; past ``max_retries`` it is
  recorded ``failed`` with the reason. Trials a worker gives back on a clean stop
  (:meth:`Storage.release`) are claimable at once, without a retry;
- a stored study carries the schema version it was written with
  (:data:`STUDY_SCHEMA`). A schema-2 database (before workers and heartbeats) is
  upgraded in place when opened: three columns are added to the trials table,
  nothing recorded is changed. A study of another version is refused, for reading
  and for resuming, with a message naming its version, never read as this one.
  Databases written before versions were stored (no ``schema_version`` column)
  hold schema-1 studies: their fingerprints follow the settings of that time, so
  they are refused rather than misread, and the file is left untouched.
"""

from __future__ import annotations

import json
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from hwnas.core.errors import ConfigError, DataError, StudyMismatch
from hwnas.core.trial import FAILED, RUNNING, Trial

#: the layout of a stored study (tables, fingerprint) this code writes and reads; 1: before versions were
#: stored; 2: before workers, heartbeats and retries (upgraded in place)
STUDY_SCHEMA = 3
#: seconds to wait for a database server to answer a connection
CONNECT_TIMEOUT_S = 5


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


@dataclass
class Running:
    """A trial some worker is evaluating: its owner (None: given back) and seconds since its last heartbeat."""

    key: str
    number: int
    worker: str | None
    age_s: float | None
    retries: int


@dataclass
class Claim:
    """What :meth:`Storage.claim` made of a batch: trials now this worker's (``running``), trials already
    finished in storage, trials running under another worker, and keys left out because the budget is full."""

    mine: list[Trial] = field(default_factory=list)
    recorded: list[Trial] = field(default_factory=list)
    busy: dict[str, Running] = field(default_factory=dict)
    over_budget: list[str] = field(default_factory=list)


def stale_reason(r: Running, worker: str, grace_s: float, dead: Collection[str]) -> str | None:
    """Why running trial ``r`` may be taken over by ``worker`` (None: its owner is alive, or it is ours)."""
    if r.worker is None:
        return "given back by a stopped worker"
    if r.worker == worker:
        return None
    if r.worker in dead:
        return f"worker {r.worker} exited while evaluating it"
    if r.age_s is None or r.age_s > grace_s:
        age = "never" if r.age_s is None else f"for {r.age_s:.1f} s"
        return f"worker {r.worker} sent no heartbeat {age} (grace {grace_s:g} s)"
    return None


class Storage(ABC):
    """Where a study's trials live."""

    #: whether other processes can see this storage (a database), so workers must heartbeat their claims
    shared: bool = False

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
        """Insert or update one trial (keyed by its architecture key), durably, owned by no worker."""

    @abstractmethod
    def counts(self, name: str) -> tuple[int, int]:
        """(finished trials, all trials) of the study; all counts running ones, as the shared budget does."""

    @abstractmethod
    def claim(self, name: str, worker: str, batch: Sequence[tuple[str, dict]], budget: int | None) -> Claim:
        """Atomically take the architectures of ``batch`` (key, arch) not yet recorded, in order, while the study
        holds fewer than ``budget`` trials; see :class:`Claim`."""

    @abstractmethod
    def finish(self, name: str, worker: str, trial: Trial) -> bool:
        """Write the result of a trial ``worker`` claimed; False (nothing written) when it is no longer its."""

    @abstractmethod
    def heartbeat(self, name: str, worker: str) -> None:
        """Refresh the heartbeat of every running trial of ``worker``."""

    @abstractmethod
    def running(self, name: str) -> list[Running]:
        """The study's running trials, with their owners and heartbeat ages."""

    @abstractmethod
    def requeue(self, name: str, worker: str, grace_s: float, max_retries: int, dead: Collection[str] = (),
                only: Collection[str] | None = None, skip: Collection[str] = ()) -> tuple[list[Trial], list[Trial]]:
        """Take over running trials whose owner is gone (given back, in ``dead``, or silent for ``grace_s``):
        return (trials now ``worker``'s to evaluate, trials recorded failed after ``max_retries`` retries).
        ``only`` / ``skip`` restrict the keys considered."""

    @abstractmethod
    def release(self, name: str, worker: str) -> None:
        """Give back the running trials of ``worker`` (a clean stop): claimable at once, without a retry."""

    @abstractmethod
    def last_heartbeat(self, name: str) -> float | None:
        """Epoch seconds of the study's latest heartbeat (any worker, any trial), None if none."""


class InMemoryStorage(Storage):
    """Keeps trials in a dict, for one process; for benchmarks and tests."""

    def __init__(self) -> None:
        self._studies: dict[str, dict] = {}
        self._trials: dict[str, dict[str, Trial]] = {}
        self._owner: dict[tuple[str, str], tuple[str | None, float | None, int]] = {}  # worker, heartbeat, retries
        self._lock = threading.Lock()

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
        with self._lock:
            return sorted((Trial(**vars(t)) for t in self._trials[name].values()), key=lambda t: t.number)

    def write(self, name: str, trial: Trial) -> None:
        with self._lock:
            self._trials[name][trial.key] = Trial(**vars(trial))
            self._owner[name, trial.key] = (None, None, self._owner.get((name, trial.key), (0, 0, 0))[2])

    def counts(self, name: str) -> tuple[int, int]:
        rows = self._trials[name].values()
        return sum(t.state != RUNNING for t in rows), len(rows)

    def claim(self, name, worker, batch, budget):
        out = Claim()
        with self._lock:
            rows = self._trials[name]
            number = max((t.number for t in rows.values()), default=-1) + 1
            for key, arch in batch:
                if key in rows:
                    t = rows[key]
                    if t.state == RUNNING:
                        out.busy[key] = self._running(name, t)
                    else:
                        out.recorded.append(Trial(**vars(t)))
                elif budget is not None and len(rows) >= budget:
                    out.over_budget.append(key)
                else:
                    t = Trial(number=number, key=key, arch=arch, state=RUNNING)
                    rows[key], number = t, number + 1
                    self._owner[name, key] = (worker, time.time(), 0)
                    out.mine.append(Trial(**vars(t)))
        return out

    def _running(self, name: str, t: Trial) -> Running:
        worker, beat, retries = self._owner.get((name, t.key), (None, None, 0))
        return Running(t.key, t.number, worker, None if beat is None else time.time() - beat, retries)

    def finish(self, name, worker, trial):
        with self._lock:
            t = self._trials[name].get(trial.key)
            if t is None or t.state != RUNNING or self._owner.get((name, trial.key), (None,))[0] != worker:
                return False
            self._trials[name][trial.key] = Trial(**vars(trial))
            return True

    def heartbeat(self, name, worker):
        with self._lock:
            now = time.time()
            for (study, key), (owner, _, retries) in list(self._owner.items()):
                if study == name and owner == worker and self._trials[name][key].state == RUNNING:
                    self._owner[study, key] = (owner, now, retries)

    def running(self, name):
        with self._lock:
            return [self._running(name, t) for t in self._trials[name].values() if t.state == RUNNING]

    def requeue(self, name, worker, grace_s, max_retries, dead=(), only=None, skip=()):
        taken, failed = [], []
        for r in self.running(name):
            reason = stale_reason(r, worker, grace_s, dead)
            if reason is None or (only is not None and r.key not in only) or r.key in skip:
                continue
            with self._lock:
                t = self._trials[name][r.key]
                retries = r.retries + (r.worker is not None)
                if retries > max_retries:
                    t.state, t.error = FAILED, f"abandoned after {max_retries} retries: {reason}"
                    self._owner[name, r.key] = (r.worker, None, retries)
                    failed.append(Trial(**vars(t)))
                else:
                    self._owner[name, r.key] = (worker, time.time(), retries)
                    taken.append(Trial(**vars(t)))
        return taken, failed

    def release(self, name, worker):
        with self._lock:
            for (study, key), (owner, _, retries) in list(self._owner.items()):
                if study == name and owner == worker and self._trials[name][key].state == RUNNING:
                    self._owner[study, key] = (None, None, retries)

    def last_heartbeat(self, name):
        beats = [b for (study, _), (_, b, _) in self._owner.items() if study == name and b is not None]
        return max(beats, default=None)


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
#: columns schema 3 added to the trials table (name -> DDL type), added in place to a schema-2 database
_WORKER_COLUMNS = {"worker": "VARCHAR(200)", "heartbeat_at": "FLOAT", "retries": "INTEGER NOT NULL DEFAULT 0"}
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
    sa.Column("worker", sa.String(200)),
    sa.Column("heartbeat_at", sa.Float),
    sa.Column("retries", sa.Integer, nullable=False, default=0, server_default="0"),
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


def _trial(r, where: str = "storage") -> Trial:
    """A stored row as a Trial; a damaged JSON field (a tampered or truncated database) is refused naming
    ``where`` (the storage and study), the trial and the field."""
    def field(column: str):
        try:
            return json.loads(getattr(r, column))
        except (TypeError, json.JSONDecodeError) as e:
            raise DataError(f"{where}, trial {r.number}: {column} is not valid JSON ({e}); the database is damaged"
                            ) from None

    return Trial(number=r.number, key=r.key, arch=field("arch"), state=r.state, metrics=field("metrics"),
                 error=r.error, duration_s=r.duration_s)


class SQLStorage(Storage):
    """Trials in a relational database through SQLAlchemy; SQLite by file path, anything else by URL."""

    shared = True

    def __init__(self, spec: str | Path):
        self.url = storage_url(spec)
        try:
            url = sa.engine.make_url(self.url)
        except sa.exc.ArgumentError as e:
            raise ConfigError(f"storage {spec}: not a database URL: {e}") from None
        #: the URL as shown in messages (password hidden)
        self.shown = url.render_as_string(hide_password=True)
        try:
            if url.get_backend_name() == "sqlite":
                # writers queue on SQLite's lock: wait for it (heartbeats and claims of other workers) rather than fail
                self.engine = sa.create_engine(self.url, connect_args={"timeout": 60})
            elif url.get_backend_name() == "postgresql":
                self.engine = sa.create_engine(self.url, connect_args={"connect_timeout": CONNECT_TIMEOUT_S})
            else:
                self.engine = sa.create_engine(self.url, pool_pre_ping=True)
        except (ImportError, sa.exc.NoSuchModuleError) as e:
            extra = " (pip install 'hwnas[postgres]')" if url.get_backend_name() == "postgresql" else ""
            raise ConfigError(f"storage {self.shown}: no database driver for it{extra}: {e}") from None
        if self.engine.dialect.name == "sqlite":
            @sa.event.listens_for(self.engine, "connect")
            def _pragmas(dbapi_conn, _record):  # durability on kill -9, readers beside the writer
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=FULL")
                cur.close()
        try:
            self._create_tables()
            columns = {c["name"] for c in sa.inspect(self.engine).get_columns(_studies.name)}
            # a database from before schema versions were stored: its studies are schema 1 (refused, never altered)
            self._unversioned = "schema_version" not in columns
            if not self._unversioned:
                self._upgrade()
        except sa.exc.OperationalError as e:
            raise ConfigError(f"storage {self.shown}: cannot use the database: {e.orig}") from None
        except sa.exc.DatabaseError as e:
            raise ConfigError(f"storage {spec}: not a usable database: {e.orig}") from None
        self._ids: dict[str, int] = {}

    def _create_tables(self) -> None:
        """Create the tables a database lacks; several workers starting on a new database at once may race
        to create them, and the ones that lose find them made."""
        for attempt in range(5):
            try:
                _meta.create_all(self.engine)
                return
            except sa.exc.DBAPIError as e:
                if attempt == 4 or not any(w in str(e.orig).lower() for w in ("already exists", "duplicate")):
                    raise
                time.sleep(0.05 * (attempt + 1))

    def _upgrade(self) -> None:
        """Add schema 3's columns to a schema-2 trials table and mark its studies schema 3, in one transaction
        (nothing recorded changes). Two processes upgrading at once: the second finds the columns there."""
        for _ in range(2):
            have = {c["name"] for c in sa.inspect(self.engine).get_columns(_trials.name)}
            missing = [c for c in _WORKER_COLUMNS if c not in have]
            if not missing:
                return
            try:
                with self.engine.begin() as conn:
                    conn.execute(_studies.update().where(_studies.c.schema_version == 2).values(schema_version=3))
                    for col in missing:
                        conn.execute(sa.text(f"ALTER TABLE {_trials.name} ADD COLUMN {col} {_WORKER_COLUMNS[col]}"))
            except (sa.exc.OperationalError, sa.exc.ProgrammingError):
                continue  # another process added them meanwhile: look again
        have = {c["name"] for c in sa.inspect(self.engine).get_columns(_trials.name)}
        if any(c not in have for c in _WORKER_COLUMNS):
            raise StudyMismatch(f"storage {self.shown}: could not add the columns of study schema {STUDY_SCHEMA} "
                                f"({sorted(_WORKER_COLUMNS)}) to {_trials.name}")

    def _refuse_version(self, name: str, version: int) -> None:
        if version < STUDY_SCHEMA:
            raise StudyMismatch(
                f"study {name!r} in {self.shown} was written by an older hwnas (study schema {version}; this hwnas "
                f"reads schema {STUDY_SCHEMA}); its settings are stored in an older form and are not read, so as not "
                "to misread them. Run the search again into a new storage file (or another database), or read this "
                "one with the hwnas release that wrote it.")
        raise StudyMismatch(f"study {name!r} in {self.shown} was written by a newer hwnas (study schema {version}; "
                            f"this hwnas reads schema {STUDY_SCHEMA}); upgrade hwnas to read or resume it.")

    def open_study(self, name: str, fingerprint: dict) -> None:
        if self._unversioned:
            known = self.studies()
            if name in known:
                self._refuse_version(name, 1)
            raise StudyMismatch(f"storage {self.shown} was written by an older hwnas (study schema 1, studies "
                                f"{sorted(known)}; this hwnas writes schema {STUDY_SCHEMA}); it is left as it is: "
                                "write new studies into a new storage file.")
        for attempt in range(2):
            try:
                self._open_study(name, fingerprint)
                return
            except sa.exc.IntegrityError:  # another worker created the study at the same moment: read theirs
                if attempt:
                    raise

    def _open_study(self, name: str, fingerprint: dict) -> None:
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
                    f"study {name!r} in {self.shown} was created with another configuration: " + "; ".join(diffs)
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

    def _now(self):
        """The time as the database sees it (PostgreSQL: the server's clock, shared by every worker's machine)."""
        if self.engine.dialect.name == "postgresql":
            return sa.cast(sa.extract("epoch", sa.func.clock_timestamp()), sa.Float)
        return sa.literal(time.time(), sa.Float)

    def _lock_study(self, conn, sid: int) -> None:
        """Serialise claims and take-overs of one study: a write to its row is held until the transaction ends
        (a row lock on PostgreSQL, the database's write lock on SQLite)."""
        conn.execute(_studies.update().where(_studies.c.id == sid).values(schema_version=_studies.c.schema_version))

    def _of(self, name: str):
        return _trials.c.study_id == self._sid(name)

    def trials(self, name: str) -> list[Trial]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(_trials).where(self._of(name)).order_by(_trials.c.number)).all()
        return [_trial(r, f"storage {self.shown}: study {name!r}") for r in rows]

    def write(self, name: str, trial: Trial) -> None:
        sid = self._sid(name)
        values = dict(number=trial.number, arch=json.dumps(trial.arch, sort_keys=True), state=trial.state,
                      metrics=json.dumps(trial.metrics), error=trial.error, duration_s=trial.duration_s,
                      updated_at=time.time(), worker=None, heartbeat_at=None)
        with self.engine.begin() as conn:
            res = conn.execute(
                _trials.update().where((_trials.c.study_id == sid) & (_trials.c.key == trial.key)).values(**values)
            )
            if res.rowcount == 0:
                conn.execute(_trials.insert().values(study_id=sid, key=trial.key, **values))

    def counts(self, name: str) -> tuple[int, int]:
        finished = sa.func.sum(sa.case((_trials.c.state != RUNNING, 1), else_=0))
        with self.engine.connect() as conn:
            done, total = conn.execute(sa.select(finished, sa.func.count()).where(self._of(name))).one()
        return int(done or 0), int(total)

    def claim(self, name, worker, batch, budget):
        out = Claim()
        sid = self._sid(name)
        with self.engine.begin() as conn:
            self._lock_study(conn, sid)
            keys = [k for k, _ in batch]
            age = (self._now() - _trials.c.heartbeat_at).label("age")
            found = {r.key: r for r in conn.execute(sa.select(_trials, age).where(
                self._of(name) & _trials.c.key.in_(keys))).all()} if keys else {}
            total, last = conn.execute(sa.select(sa.func.count(), sa.func.max(_trials.c.number))
                                       .where(self._of(name))).one()
            number = -1 if last is None else int(last)
            for key, arch in batch:
                r = found.get(key)
                if r is not None:
                    if r.state == RUNNING:
                        out.busy[key] = Running(key, r.number, r.worker, r.age, r.retries)
                    else:
                        out.recorded.append(_trial(r))
                elif budget is not None and total >= budget:
                    out.over_budget.append(key)
                else:
                    number, total = number + 1, total + 1
                    conn.execute(_trials.insert().values(
                        study_id=sid, number=number, key=key, arch=json.dumps(arch, sort_keys=True), state=RUNNING,
                        metrics="{}", error=None, duration_s=0.0, updated_at=time.time(), worker=worker,
                        heartbeat_at=self._now(), retries=0))
                    out.mine.append(Trial(number=number, key=key, arch=arch, state=RUNNING))
        return out

    def finish(self, name, worker, trial):
        with self.engine.begin() as conn:
            res = conn.execute(_trials.update().where(
                self._of(name) & (_trials.c.key == trial.key) & (_trials.c.state == RUNNING)
                & (_trials.c.worker == worker)).values(
                state=trial.state, metrics=json.dumps(trial.metrics), error=trial.error,
                duration_s=trial.duration_s, updated_at=time.time(), heartbeat_at=self._now()))
        return res.rowcount == 1

    def heartbeat(self, name, worker):
        with self.engine.begin() as conn:
            conn.execute(_trials.update().where(self._of(name) & (_trials.c.worker == worker)
                                                & (_trials.c.state == RUNNING)).values(heartbeat_at=self._now()))

    def _running_rows(self, conn, name):
        age = (self._now() - _trials.c.heartbeat_at).label("age")
        rows = conn.execute(sa.select(_trials.c.key, _trials.c.number, _trials.c.worker, age, _trials.c.retries)
                            .where(self._of(name) & (_trials.c.state == RUNNING))
                            .order_by(_trials.c.number)).all()
        return [Running(r.key, r.number, r.worker, r.age, r.retries) for r in rows]

    def running(self, name):
        with self.engine.connect() as conn:
            return self._running_rows(conn, name)

    def requeue(self, name, worker, grace_s, max_retries, dead=(), only=None, skip=()):
        taken, failed = [], []
        with self.engine.begin() as conn:
            self._lock_study(conn, self._sid(name))
            for r in self._running_rows(conn, name):
                reason = stale_reason(r, worker, grace_s, dead)
                if reason is None or (only is not None and r.key not in only) or r.key in skip:
                    continue
                retries = r.retries + (r.worker is not None)
                where = self._of(name) & (_trials.c.key == r.key) & (_trials.c.state == RUNNING)
                if retries > max_retries:
                    values = dict(state=FAILED, error=f"abandoned after {max_retries} retries: {reason}",
                                  retries=retries, updated_at=time.time())
                else:
                    values = dict(worker=worker, heartbeat_at=self._now(), retries=retries)
                conn.execute(_trials.update().where(where).values(**values))
                row = conn.execute(sa.select(_trials).where(where if retries <= max_retries else
                                                            self._of(name) & (_trials.c.key == r.key))).one()
                (failed if retries > max_retries else taken).append(_trial(row))
        return taken, failed

    def release(self, name, worker):
        with self.engine.begin() as conn:
            conn.execute(_trials.update().where(self._of(name) & (_trials.c.worker == worker)
                                                & (_trials.c.state == RUNNING)).values(worker=None, heartbeat_at=None))

    def last_heartbeat(self, name):
        with self.engine.connect() as conn:
            return conn.execute(sa.select(sa.func.max(_trials.c.heartbeat_at)).where(self._of(name))).scalar()


def open_storage(spec: str | Path | None) -> Storage:
    """``None`` -> in memory; a path or URL -> SQL storage."""
    return InMemoryStorage() if spec is None else SQLStorage(spec)
