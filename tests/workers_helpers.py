"""Starting study workers as processes and reading what they recorded, for the many-workers and crash tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa

from hwnas.storage import SQLStorage

TESTS = Path(__file__).resolve().parent
SRC = TESTS.parent / "src"


def start_worker(storage: str, name: str, budget: int, *args: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(SRC), str(TESTS), os.environ.get("PYTHONPATH", "")]))
    return subprocess.Popen([sys.executable, str(TESTS / "worker_proc.py"), storage, name, str(budget), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def worker_id(proc: subprocess.Popen) -> str:
    line = proc.stdout.readline()
    assert line.startswith("worker "), line + proc.stderr.read()
    return line.split()[1]


def rows(storage: str, name: str) -> list:
    """Every trial row of study ``name``: key, number, state, metrics, error, worker, retries."""
    store = SQLStorage(storage)
    with store.engine.connect() as conn:
        out = conn.execute(sa.text(
            "SELECT t.key, t.number, t.state, t.metrics, t.error, t.worker, t.retries FROM hwnas_trials t "
            "JOIN hwnas_studies s ON s.id = t.study_id WHERE s.name = :n ORDER BY t.number"), {"n": name}).all()
    store.engine.dispose()
    return out


def wait_for(predicate, timeout: float, what: str, step: float = 0.05):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        got = predicate()
        if got:
            return got
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def finish(procs: list[subprocess.Popen], timeout: float = 60) -> None:
    for p in procs:
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
            raise AssertionError(f"worker did not finish: {out}{err}") from None
        assert p.returncode == 0, f"worker failed ({p.returncode}): {out}{err}"
