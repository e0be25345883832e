"""kill -9 of a worker or of the driver at any point: in-flight evaluations run again once, nothing recorded is
lost or doubled, and a resumed study records what an uninterrupted one does."""

from __future__ import annotations

import json
import os
import random
import signal
import time

import pytest
from worker_proc import make_study
from workers_helpers import finish, rows, start_worker, wait_for, worker_id

from hwnas.storage import InMemoryStorage

GRACE = 2.0


def _running_of(storage, name, wid):
    return [r for r in rows(storage, name) if r.state == "running" and r.worker == wid]


@pytest.mark.distributed
def test_a_killed_worker_is_taken_over_within_the_grace_period_and_run_once(tmp_path):
    storage = f"sqlite:///{tmp_path / 's.db'}"
    budget = 40
    victim = start_worker(storage, "s", budget, "--hang", "--batch", "1", "--seed", "1")
    vid = worker_id(victim)
    (claimed,) = wait_for(lambda: _running_of(storage, "s", vid), 30, "the victim's claim")
    others = [start_worker(storage, "s", budget, "--delay", "0.02", "--seed", "1") for _ in range(3)]
    ids = [worker_id(p) for p in others]
    wait_for(lambda: sum(r.state == "complete" for r in rows(storage, "s")) >= 5, 30, "the others to evaluate")
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    t0 = time.monotonic()
    wait_for(lambda: next(r for r in rows(storage, "s") if r.key == claimed.key).worker != vid, GRACE,
             "another worker to take the trial over")
    assert time.monotonic() - t0 < GRACE
    finish(others)
    got = rows(storage, "s")
    assert len(got) == budget and len({r.key for r in got}) == budget and {r.state for r in got} == {"complete"}
    (taken,) = [r for r in got if r.key == claimed.key]
    assert taken.worker in ids and taken.retries == 1 and taken.number == claimed.number


@pytest.mark.distributed
def test_a_silent_worker_is_taken_over_after_the_grace_period_and_its_late_result_dropped(tmp_path):
    """A worker that stops sending heartbeats (paused, cut off) without dying: another takes its trial over once
    the grace period is past, never before; when it comes back, its result is not written a second time."""
    storage = f"sqlite:///{tmp_path / 's.db'}"
    paused = start_worker(storage, "s", 12, "--delay", "3", "--batch", "1", "--seed", "2")
    pid = worker_id(paused)
    (claimed,) = wait_for(lambda: _running_of(storage, "s", pid), 30, "the first claim")
    os.kill(paused.pid, signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        other = start_worker(storage, "s", 12, "--delay", "0.01", "--seed", "2")
        oid = worker_id(other)
        wait_for(lambda: next(r for r in rows(storage, "s") if r.key == claimed.key).worker == oid, 30,
                 "the silent worker's trial to be taken over")
        assert time.monotonic() - t0 >= GRACE - 0.5  # its heartbeat stopped at most one beat before the pause
    finally:
        os.kill(paused.pid, signal.SIGCONT)
    finish([other, paused])
    got = rows(storage, "s")
    assert len(got) == 12 and len({r.key for r in got}) == 12 and {r.state for r in got} == {"complete"}
    (taken,) = [r for r in got if r.key == claimed.key]
    assert taken.worker == oid and taken.retries == 1


def _record_set(rs):
    return {(r.number, r.key, r.state, json.dumps(json.loads(r.metrics), sort_keys=True)) for r in rs}


@pytest.mark.distributed
def test_the_driver_killed_five_times_records_what_an_uninterrupted_run_does(tmp_path):
    budget, seed = 60, 5
    reference = make_study(InMemoryStorage(), "s", seed=seed, strategy="evolution", batch=4)
    reference.optimize(budget)
    expected = {(t.number, t.key, t.state, json.dumps(t.metrics, sort_keys=True)) for t in reference.trials}
    storage = f"sqlite:///{tmp_path / 's.db'}"
    rng = random.Random(11)
    args = ("--delay", "0.03", "--strategy", "evolution", "--seed", str(seed))
    kills = 0
    while kills < 5:
        driver = start_worker(storage, "s", budget, *args)
        worker_id(driver)
        done_before = sum(r.state != "running" for r in rows(storage, "s"))
        target = done_before + rng.randint(1, 8)  # a random point: after some evaluations, mid-round or not
        wait_for(lambda: sum(r.state != "running" for r in rows(storage, "s")) >= target, 60,  # noqa: B023
                 "the driver to make progress", step=0.01)
        time.sleep(rng.uniform(0, 0.05))
        os.kill(driver.pid, signal.SIGKILL)
        driver.wait()
        kills += 1
    assert len(rows(storage, "s")) < budget  # the kills landed before the end
    last = start_worker(storage, "s", budget, *args)
    finish([last])
    got = rows(storage, "s")
    assert _record_set(got) == expected
    assert any(r.retries for r in got)  # at least one kill landed mid-evaluation, and that trial ran again
