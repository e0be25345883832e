"""The state of every study a storage holds (``hwnas studies``): evaluations done, failed and running, the size
of the best front found, and the latest heartbeat of its workers."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hwnas.core.errors import ConfigError, StudyMismatch
from hwnas.core.objectives import Constraint, Objective
from hwnas.core.pareto import nondominated_mask


@dataclass
class StudyState:
    """One stored study at the moment it was read (``note``: why it could not be read, if so)."""

    name: str
    done: int = 0
    failed: int = 0
    running: int = 0
    workers: int = 0
    front: int = 0
    last_heartbeat: float | None = None
    note: str = ""


def _front_size(trials, fingerprint: dict) -> int:
    objectives = [Objective.parse(o) for o in fingerprint.get("objectives", [])]
    constraints = [Constraint.parse(c) for c in fingerprint.get("constraints", [])]
    ok = [t for t in trials if t.feasible(constraints)]
    if not ok or not objectives:
        return 0
    return int(nondominated_mask(np.stack([t.values(objectives) for t in ok])).sum())


def study_states(storage: str | Path) -> list[StudyState]:
    """The state of each study in ``storage`` (a study file or a database URL), by name."""
    from hwnas.storage import SQLStorage

    spec = str(storage)
    if "://" not in spec and not Path(spec).exists():
        raise ConfigError(f"--storage {spec}: file not found")
    store = SQLStorage(spec)
    out = []
    for name in sorted(store.studies()):
        try:
            fingerprint = store.load_study(name)
        except StudyMismatch as e:
            out.append(StudyState(name, note=str(e).split(";")[0]))
            continue
        trials = store.trials(name)
        running = store.running(name)
        out.append(StudyState(name, done=sum(t.state == "complete" for t in trials),
                              failed=sum(t.state == "failed" for t in trials), running=len(running),
                              workers=len({r.worker for r in running if r.worker}),
                              front=_front_size(trials, fingerprint), last_heartbeat=store.last_heartbeat(name)))
    store.engine.dispose()
    return out


def format_states(states: list[StudyState], now: float | None = None) -> str:
    """A plain-text table of ``states`` (one line per study)."""
    now = time.time() if now is None else now
    head = ("study", "done", "failed", "running", "workers", "front", "last heartbeat")
    lines = [head]
    for s in states:
        if s.note:
            lines.append((s.name, "-", "-", "-", "-", "-", s.note))
            continue
        beat = "never" if s.last_heartbeat is None else (
            time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(s.last_heartbeat))
            + f" ({max(0.0, now - s.last_heartbeat):.0f} s ago)")
        lines.append((s.name, str(s.done), str(s.failed), str(s.running), str(s.workers), str(s.front), beat))
    widths = [max(len(row[i]) for row in lines) for i in range(len(head) - 1)]
    return "\n".join("  ".join([c.ljust(w) for c, w in zip(row[:-1], widths)] + [row[-1]]) for row in lines)
