"""Where evaluations run: in this process, in a local process pool, or on a Ray cluster.

An executor takes a batch of independent jobs and yields ``(index, result)``
as each finishes, so the study can record every result the moment it exists.
Jobs are ``fn(evaluator, arch)`` with a module-level ``fn``; the evaluator
travels to workers by the executor's own transport (process pools and Ray
serialise it between our own processes; nothing here is written for users).
"""

from __future__ import annotations

import concurrent.futures as cf
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from hwnas.core.errors import ConfigError
from hwnas.core.registry import Registry


class Executor:
    """Runs jobs one after another in this process."""

    name = "serial"

    def run(self, fn: Callable, evaluator: Any, archs: Sequence) -> Iterator[tuple[int, Any]]:
        for i, arch in enumerate(archs):
            yield i, fn(evaluator, arch)

    def close(self) -> None:
        pass


class ProcessPoolExecutor(Executor):
    """Runs jobs in a pool of local worker processes."""

    name = "process"

    def __init__(self, workers: int = 2):
        if workers < 1:
            raise ConfigError(f"executor.workers must be >= 1, got {workers}")
        self.pool = cf.ProcessPoolExecutor(max_workers=workers)

    def run(self, fn, evaluator, archs):
        futures = {self.pool.submit(fn, evaluator, a): i for i, a in enumerate(archs)}
        for fut in cf.as_completed(futures):
            yield futures[fut], fut.result()

    def close(self) -> None:
        self.pool.shutdown(cancel_futures=True)


class RayExecutor(Executor):
    """Runs jobs as Ray tasks (``pip install hwnas[ray]``); ``address`` joins an existing cluster."""

    name = "ray"

    def __init__(self, address: str | None = None, num_cpus_per_task: float = 1.0):
        try:
            import ray
        except ImportError:
            raise ConfigError("executor 'ray' needs Ray: pip install 'hwnas[ray]'") from None
        self.ray = ray
        if not ray.is_initialized():
            ray.init(address=address, ignore_reinit_error=True, log_to_driver=False, include_dashboard=False)
        self.num_cpus = num_cpus_per_task

    def run(self, fn, evaluator, archs):
        remote = self.ray.remote(num_cpus=self.num_cpus)(fn)
        ev_ref = self.ray.put(evaluator)
        pending = {remote.remote(ev_ref, a): i for i, a in enumerate(archs)}
        while pending:
            done, _ = self.ray.wait(list(pending), num_returns=1)
            for ref in done:
                yield pending.pop(ref), self.ray.get(ref)


#: where evaluations run; installed packages add theirs under the entry-point group ``hwnas.executors``
EXECUTORS: Registry[Executor] = Registry("executor", "hwnas.executors", {
    "serial": "hwnas.executors:Executor",
    "process": "hwnas.executors:ProcessPoolExecutor",
    "ray": "hwnas.executors:RayExecutor",
})


def make_executor(name: str = "serial", **options) -> Executor:
    """An executor by name (``serial``, ``process``, ``ray`` or a registered one)."""
    return EXECUTORS.create(name, **options)
