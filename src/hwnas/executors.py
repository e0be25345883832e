"""Where evaluations run: in this process, in a local process pool, or on a Ray cluster.

An executor takes a batch of independent jobs and yields ``(index, result)``
as each finishes, so the study can record every result the moment it exists.
Jobs are ``fn(evaluator, arch)`` with a module-level ``fn`` that returns
``(metrics, error, seconds)`` (``hwnas.study.evaluate_one``); the evaluator
travels to workers by the executor's own transport (process pools and Ray
serialise it between our own processes; nothing here is written for users).

The pool and Ray executors share one fault policy: a job whose worker process
dies (``os._exit``, a segfault, the out-of-memory killer) or that runs longer
than ``timeout_s`` is tried again up to ``max_retries`` times, then yielded as
a failed result ``(None, reason, seconds)``, so the study records it failed and
the search goes on.
"""

from __future__ import annotations

import concurrent.futures as cf
import socket
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import Any
from urllib.parse import urlsplit

from hwnas.core.errors import ConfigError
from hwnas.core.registry import Registry


def failed_result(reason: str, seconds: float) -> tuple[None, str, float]:
    """What a job that could not finish yields: the shape of a failed ``evaluate_one`` result."""
    return None, reason, seconds


def _check_policy(max_retries: int, timeout_s: float | None) -> None:
    if not isinstance(max_retries, int) or max_retries < 0:
        raise ConfigError(f"executor.options.max_retries must be an integer >= 0, got {max_retries!r}")
    if timeout_s is not None and not timeout_s > 0:
        raise ConfigError(f"executor.options.timeout_s must be > 0 seconds (or null for none), got {timeout_s!r}")


class Executor:
    """Runs jobs one after another in this process."""

    name = "serial"

    def run(self, fn: Callable, evaluator: Any, archs: Sequence) -> Iterator[tuple[int, Any]]:
        for i, arch in enumerate(archs):
            yield i, fn(evaluator, arch)

    def close(self) -> None:
        pass


class ProcessPoolExecutor(Executor):
    """Runs jobs in a pool of local worker processes, with the fault policy of the module docstring.

    At most ``workers`` jobs are in flight, so a job's clock starts when it starts running. A job past
    ``timeout_s`` has its pool's processes killed; the other jobs that were running are run again without
    counting against them. A pool broken by a dying worker cannot say which job killed it: it is rebuilt
    and the jobs it held run again one at a time, so the one that kills its worker alone is known; every
    run counts as an attempt and the others complete (with ``max_retries=0`` a job that kills a shared
    pool is thus run once more, alone, before it is recorded failed).
    """

    name = "process"

    def __init__(self, workers: int = 2, max_retries: int = 0, timeout_s: float | None = None):
        if workers < 1:
            raise ConfigError(f"executor.options.workers must be >= 1, got {workers}")
        _check_policy(max_retries, timeout_s)
        self.workers, self.max_retries, self.timeout_s = workers, max_retries, timeout_s
        self.pool = cf.ProcessPoolExecutor(max_workers=workers)

    def _rebuild(self, kill: bool) -> None:
        if kill:  # a timed-out job cannot be cancelled once running: end its process (and the pool with it)
            for p in list(getattr(self.pool, "_processes", {}).values()):
                p.kill()
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.pool = cf.ProcessPoolExecutor(max_workers=self.workers)

    def run(self, fn, evaluator, archs):
        queue = deque(range(len(archs)))  # jobs to (re)submit
        suspects: deque[int] = deque()  # jobs that were in a pool when it broke: run one at a time
        attempts = [0] * len(archs)
        running: dict[cf.Future, tuple[int, float]] = {}
        while queue or suspects or running:
            window = 1 if suspects else self.workers
            while len(running) < window and (suspects or queue):
                i = suspects.popleft() if suspects else queue.popleft()
                attempts[i] += 1
                running[self.pool.submit(fn, evaluator, archs[i])] = (i, time.monotonic())
            timeout = None
            if self.timeout_s is not None:
                timeout = max(0.0, min(t0 for _, t0 in running.values()) + self.timeout_s - time.monotonic())
            done, _ = cf.wait(running, timeout=timeout, return_when=cf.FIRST_COMPLETED)
            broken = False
            for fut in done:
                i, t0 = running.pop(fut)
                try:
                    result = fut.result()
                except cf.process.BrokenProcessPool:
                    broken = True
                    if window == 1:  # alone in the pool: this job killed its worker
                        if attempts[i] > self.max_retries:
                            yield i, failed_result(
                                f"worker process died during the evaluation ({attempts[i]} attempt(s))",
                                time.monotonic() - t0)
                        else:
                            suspects.appendleft(i)
                    else:
                        suspects.append(i)
                    continue
                yield i, result
            if broken:
                for i, _ in running.values():
                    suspects.append(i)
                running.clear()
                self._rebuild(kill=False)
                continue
            if not done and running:  # the oldest job ran past timeout_s
                now = time.monotonic()
                late = [(i, t0) for i, t0 in running.values() if now - t0 >= self.timeout_s]
                for i, t0 in running.values():
                    if now - t0 < self.timeout_s:  # killed with the pool, not at fault: run again uncounted
                        attempts[i] -= 1
                        queue.appendleft(i)
                running.clear()
                self._rebuild(kill=True)
                for i, t0 in late:
                    if attempts[i] > self.max_retries:
                        yield i, failed_result(f"evaluation exceeded executor.options.timeout_s={self.timeout_s:g}s "
                                               f"({attempts[i]} attempt(s))", time.monotonic() - t0)
                    else:
                        queue.appendleft(i)

    def close(self) -> None:
        self.pool.shutdown(cancel_futures=True)


def check_reachable(address: str, timeout_s: float) -> None:
    """Refuse, naming it, a Ray address whose host:port does not accept a connection within ``timeout_s``
    (``ray.init`` would wait on it far longer). ``auto``, ``local`` and ``None`` are not network addresses."""
    if address in (None, "auto", "local"):
        return
    parts = urlsplit(address if "://" in address else f"ray://{address}")
    try:
        host, port = parts.hostname, parts.port
    except ValueError as e:
        raise ConfigError(f"executor.options.address {address!r} is not host:port ({e})") from None
    if not host or port is None:
        raise ConfigError(f"executor.options.address {address!r} is not host:port (or 'auto' / 'local')")
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            pass
    except OSError as e:
        raise ConfigError(f"executor.options.address {address!r}: no Ray cluster reachable at {host}:{port} within "
                          f"{timeout_s:g}s ({e.strerror or e}); start one (`ray start --head`) or fix the address"
                          ) from None


def _started_then(fn, evaluator, arch):
    """A Ray task as a two-item stream: a start mark (the driver starts the job's clock on it, not at
    submission, so queueing and worker start-up never count against ``timeout_s``), then ``fn``'s result."""
    yield "started"
    yield fn(evaluator, arch)


class RayExecutor(Executor):
    """Runs jobs as Ray tasks (``pip install 'hwnas[ray]'``); ``address`` joins an existing cluster.

    Tasks carry ``max_retries=0`` explicitly (Ray's default would run a candidate that crashes its
    worker four times, silently); this executor retries a task whose worker died (``WorkerCrashedError``
    or another Ray system error) or that ran past ``timeout_s`` (then cancelled, its worker killed) up to
    ``max_retries`` times and then yields it as failed with the reason. A job's clock starts when it
    starts running on a worker.
    """

    name = "ray"

    def __init__(self, address: str | None = None, num_cpus_per_task: float = 1.0, max_retries: int = 0,
                 timeout_s: float | None = None, connect_timeout_s: float = 5.0):
        try:
            import ray
        except ImportError:
            raise ConfigError("executor 'ray' needs Ray: pip install 'hwnas[ray]'") from None
        _check_policy(max_retries, timeout_s)
        if not num_cpus_per_task > 0:
            raise ConfigError(f"executor.options.num_cpus_per_task must be > 0, got {num_cpus_per_task!r}")
        self.ray = ray
        self.max_retries, self.timeout_s = max_retries, timeout_s
        self.started = False
        if not ray.is_initialized():
            check_reachable(address, connect_timeout_s)
            ray.init(address=address, ignore_reinit_error=True, log_to_driver=False, include_dashboard=False)
            self.started = True
        self.num_cpus = num_cpus_per_task

    def run(self, fn, evaluator, archs):
        from ray.exceptions import RayError, RayTaskError

        remote = self.ray.remote(num_cpus=self.num_cpus, max_retries=0, retry_exceptions=False,
                                 num_returns="streaming")(_started_then)
        ev_ref = self.ray.put(evaluator)
        attempts = [0] * len(archs)
        running: dict[Any, list] = {}  # stream -> [index, submitted at, started at or None]

        def submit(i: int) -> None:
            attempts[i] += 1
            running[remote.remote(fn, ev_ref, archs[i])] = [i, time.monotonic(), None]

        def retry_or_fail(i: int, reason: str, seconds: float):
            if attempts[i] > self.max_retries:
                return i, failed_result(f"{reason} ({attempts[i]} attempt(s))", seconds)
            submit(i)
            return None

        for i in range(len(archs)):
            submit(i)
        while running:
            timeout = None
            starts = [st for _, _, st in running.values() if st is not None]
            if self.timeout_s is not None and starts:
                timeout = max(0.0, min(starts) + self.timeout_s - time.monotonic())
            ready, _ = self.ray.wait(list(running), num_returns=1, timeout=timeout)
            for stream in ready:
                i, _, started = running[stream]
                try:
                    ref = next(stream)
                    if started is None:  # the start mark
                        running[stream][2] = time.monotonic()
                        continue
                    del running[stream]
                    yield i, self.ray.get(ref)
                except RayTaskError as e:  # the job itself raised (a configuration error): as in this process
                    raise e.as_instanceof_cause() from None
                except (RayError, StopIteration) as e:  # the worker died (WorkerCrashedError, a lost node, ...)
                    # a stream may also just end without its result when the worker dies after the start mark
                    why = "the task ended without a result" if isinstance(e, StopIteration) else type(e).__name__
                    running.pop(stream, None)
                    out = retry_or_fail(i, f"Ray worker died during the evaluation ({why})",
                                        time.monotonic() - started if started is not None else 0.0)
                    if out is not None:
                        yield out
            now = time.monotonic()
            for stream, (i, _, started) in list(running.items()):
                if self.timeout_s is not None and started is not None and now - started >= self.timeout_s:
                    self.ray.cancel(stream, force=True)
                    del running[stream]
                    out = retry_or_fail(i, f"evaluation exceeded executor.options.timeout_s={self.timeout_s:g}s", now - started)
                    if out is not None:
                        yield out

    def close(self) -> None:
        if self.started and self.ray.is_initialized():
            self.ray.shutdown()


#: where evaluations run; installed packages add theirs under the entry-point group ``hwnas.executors``
EXECUTORS: Registry[Executor] = Registry("executor", "hwnas.executors", {
    "serial": "hwnas.executors:Executor",
    "process": "hwnas.executors:ProcessPoolExecutor",
    "ray": "hwnas.executors:RayExecutor",
})


def make_executor(name: str = "serial", **options) -> Executor:
    """An executor by name (``serial``, ``process``, ``ray`` or a registered one)."""
    return EXECUTORS.create(name, **options)
