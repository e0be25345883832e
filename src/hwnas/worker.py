"""Who evaluates a trial, whether that process still lives, and the heartbeat it writes while it works.

Many processes (on one machine or many) may share one study. Each names itself with a *worker id*,
``HOST:PID:NS:TOKEN``, written on the trials it claims: the host name and process id say where it runs,
``NS`` identifies the process-id namespace on this kernel (boot id and pid-namespace inode), so a
worker on the same kernel and namespace can tell at once that the owner of a ``running`` trial is gone
(its pid no longer exists), and ``TOKEN`` keeps two lives of one pid apart. Owners elsewhere are judged
by their heartbeat alone: a background thread refreshes the timestamp on the worker's running trials
every ``heartbeat_s`` while it evaluates, and a trial whose timestamp is older than the grace period
belongs to a worker presumed dead.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Callable
from functools import cache


@cache
def _namespace() -> str:
    """This kernel's boot id and this process's pid namespace; empty where they cannot be read (not Linux)."""
    try:
        boot = open("/proc/sys/kernel/random/boot_id").read().strip()[:8]
        return f"{boot}.{os.stat('/proc/self/ns/pid').st_ino}"
    except OSError:
        return ""


def new_worker_id() -> str:
    """A worker id for this process, unique across machines and across lives of one pid."""
    host = socket.gethostname().replace(":", "_")[:100]
    return f"{host}:{os.getpid()}:{_namespace()}:{uuid.uuid4().hex[:8]}"


def known_dead(worker: str) -> bool:
    """True when ``worker`` ran in this process-id namespace on this kernel and its process no longer exists.

    False when it cannot be told from here (another machine, namespace or OS): its heartbeat decides then.
    """
    parts = worker.split(":")
    if len(parts) != 4 or not parts[2] or parts[2] != _namespace():
        return False
    try:
        pid = int(parts[1])
    except ValueError:
        return False
    if pid == os.getpid():
        return False  # another study of this very process: alive as long as it is
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    """A process that has exited but not been reaped by its parent is dead too."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


class Heartbeat:
    """Calls ``beat()`` every ``interval_s`` seconds on a daemon thread until :meth:`stop`.

    A failing beat (the database briefly unreachable) is retried at the next interval; the study notices
    a lost claim when it writes the result.
    """

    def __init__(self, beat: Callable[[], None], interval_s: float):
        self._beat, self._interval = beat, interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hwnas-heartbeat", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._beat()
            except Exception:  # noqa: BLE001 - a missed beat is retried; the grace period covers several
                pass

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self._interval + 5)
