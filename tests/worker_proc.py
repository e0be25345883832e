"""One study worker as its own process, for the many-workers and crash tests (and benchmarks/bench_workers.py).

    python tests/worker_proc.py STORAGE NAME BUDGET [--seed S] [--delay SECONDS] [--hang] [--strategy NAME]
                                [--batch N] [--heartbeat S] [--grace S] [--retries N] [--executor serial|process]

Searches NB201 with a cheap formula evaluator that sleeps ``--delay`` seconds per evaluation (``--hang``: an
hour, to be killed mid-evaluation). The delay is not part of the evaluator's description, so workers with
different delays share one study. Prints ``worker <id>`` first, flushed, so the caller knows its id.
"""

from __future__ import annotations

import argparse
import sys
import time

from hwnas.core.objectives import Objective
from hwnas.evaluators.base import Evaluator
from hwnas.executors import make_executor
from hwnas.spaces.nb201 import NB201Space
from hwnas.storage import open_storage
from hwnas.strategies import get_strategy
from hwnas.study import Study

OBJ = [Objective("acc", "max"), Objective("lat_ms", "min")]


class SlowFormula(Evaluator):
    """acc and lat_ms computed from the cell's operations, after a sleep (the time a real evaluation takes)."""

    metrics = ("acc", "lat_ms")

    def __init__(self, delay: float = 0.0):
        self.delay = delay

    def bind(self, space):
        self.space = space

    def evaluate(self, arch):
        time.sleep(self.delay)
        genes = self.space.to_genes(arch)
        return {"acc": float(50 + 7 * (genes == 3).sum() + 3 * (genes == 2).sum() - 2 * (genes == 4).sum()
                             + 0.01 * sum(int(g) * (i + 1) for i, g in enumerate(genes))),
                "lat_ms": float(1 + 2 * (genes == 3).sum() + 0.5 * (genes == 2).sum() + 0.001 * genes.sum())}

    def describe(self):
        return {"type": "slow_formula"}


def make_study(storage, name: str, seed: int = 0, delay: float = 0.0, strategy: str = "random", batch: int = 4,
               heartbeat: float = 0.2, grace: float = 2.0, retries: int = 2, executor: str = "serial") -> Study:
    return Study(NB201Space(), SlowFormula(delay), OBJ, get_strategy(strategy), storage=storage, name=name,
                 batch_size=batch, seed=seed, executor=make_executor(executor, **({"workers": 2} if executor ==
                                                                                  "process" else {})),
                 heartbeat_s=heartbeat, grace_s=grace, max_retries=retries)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("storage")
    p.add_argument("name")
    p.add_argument("budget", type=int)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--delay", type=float, default=0.0)
    p.add_argument("--hang", action="store_true")
    p.add_argument("--strategy", default="random")
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--heartbeat", type=float, default=0.2)
    p.add_argument("--grace", type=float, default=2.0)
    p.add_argument("--retries", type=int, default=2)
    p.add_argument("--executor", default="serial")
    a = p.parse_args(argv)
    study = make_study(open_storage(a.storage), a.name, a.seed, 3600.0 if a.hang else a.delay, a.strategy, a.batch,
                       a.heartbeat, a.grace, a.retries, a.executor)
    print(f"worker {study.worker}", flush=True)
    study.optimize(a.budget)
    print(f"done {study.n_evaluated}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
