"""The search loop: ask the strategy, evaluate, record, tell.

The budget counts distinct evaluations (complete or failed). Architectures are
canonicalised first; one already evaluated is served from the cache and costs
nothing. When the evaluator holds a catalog (a table), proposals outside it are
dropped uncounted, and the search stops once every architecture of the catalog is
evaluated (:attr:`Study.exhausted`), whatever budget is left. Every result is written to storage before the strategy hears of it,
so a study re-opened from its storage resumes exactly where it stopped: the
strategy is rebuilt from the stored trials and evaluations that were in flight
when the process died are run again.
"""

from __future__ import annotations

import math
import time
import traceback
from collections.abc import Callable, Sequence

import numpy as np

from hwnas.core.errors import EvaluationFailed, HwnasError
from hwnas.core.objectives import Constraint, Objective
from hwnas.core.pareto import nondominated_mask
from hwnas.core.trial import COMPLETE, FAILED, RUNNING, Trial
from hwnas.evaluators.base import Evaluator
from hwnas.executors import Executor
from hwnas.spaces.base import ChoiceSpace
from hwnas.storage import InMemoryStorage, Storage
from hwnas.strategies.base import Strategy

#: proposals in a row that bring nothing new before the study fills in random unseen architectures
_STALL_LIMIT = 20


def evaluate_one(evaluator: Evaluator, arch: dict) -> tuple[dict | None, str | None, float]:
    """Run one evaluation; return (metrics, error, seconds). Never raises for evaluation faults."""
    t0 = time.perf_counter()
    try:
        metrics = evaluator.evaluate(arch)
        bad = [k for k, v in metrics.items() if not isinstance(v, (int, float)) or not math.isfinite(v)]
        if bad:
            raise EvaluationFailed(f"non-finite metric(s) {', '.join(f'{k}={metrics[k]}' for k in bad)}")
        return {k: float(v) for k, v in metrics.items()}, None, time.perf_counter() - t0
    except EvaluationFailed as e:
        return None, str(e), time.perf_counter() - t0
    except (KeyboardInterrupt, SystemExit):
        raise
    except HwnasError:
        raise
    except Exception as e:  # a crashed evaluation is recorded, not fatal
        tb = traceback.format_exception_only(type(e), e)[-1].strip()
        return None, f"evaluation raised {tb}", time.perf_counter() - t0


class Study:
    """A multi-objective search over ``space`` with ``evaluator``, driven by ``strategy``."""

    def __init__(
        self,
        space: ChoiceSpace,
        evaluator: Evaluator,
        objectives: Sequence[Objective],
        strategy: Strategy,
        constraints: Sequence[Constraint] = (),
        storage: Storage | None = None,
        name: str = "study",
        batch_size: int | None = None,
        seed: int = 0,
        executor: Executor | None = None,
    ):
        if not objectives:
            raise ValueError("a study needs at least one objective")
        self.space = space
        self.evaluator = evaluator
        self.objectives = list(objectives)
        self.constraints = list(constraints)
        self.strategy = strategy
        self.storage = storage if storage is not None else InMemoryStorage()
        self.name = name
        self.seed = seed
        self.batch_size = int(batch_size or strategy.preferred_batch)
        self.executor = executor or Executor()
        missing = [m for m in [o.metric for o in self.objectives] + [c.metric for c in self.constraints]
                   if evaluator.metrics and m not in evaluator.metrics]
        if missing:
            raise HwnasError(f"metric(s) {missing} are not produced by the evaluator; it produces {list(evaluator.metrics)}")
        evaluator.bind(space)
        self.storage.open_study(name, self.fingerprint())
        self.interrupted = self.storage.delete_running(name)
        self.trials: list[Trial] = self.storage.trials(name)
        self._cache = {t.key: t for t in self.trials}
        self._catalog = self._catalog_keys(evaluator)
        self._catalog_done = 0 if self._catalog is None else sum(k in self._catalog for k in self._cache)
        #: proposals outside the evaluator's catalog, dropped before evaluation (never counted)
        self.outside_catalog = 0
        self.strategy.attach(evaluator)
        self.strategy.setup(space, self.objectives, self.constraints, seed)
        if self.trials:
            self.strategy.tell(list(self.trials))
        self._rng = np.random.default_rng(seed + 7919 * (len(self.trials) + 1))
        self.served_from_cache = 0

    def fingerprint(self) -> dict:
        """What must not change for a stored study to be resumed."""
        return {
            "space": self.space.describe(),
            "evaluator": self.evaluator.describe(),
            "objectives": [str(o) for o in self.objectives],
            "constraints": [str(c) for c in self.constraints],
            "strategy": {"name": self.strategy.name, "options": self.strategy.options()},
            "seed": self.seed,
        }

    def _catalog_keys(self, evaluator: Evaluator) -> dict[str, dict] | None:
        """Canonical key -> canonical architecture of every architecture the evaluator's catalog holds
        (a table), or None when it answers for the whole space."""
        catalog = getattr(evaluator, "catalog", None)
        rows = catalog() if callable(catalog) else None
        if rows is None:
            return None
        rows = np.asarray(rows, dtype=np.int64).reshape(-1, len(self.space.cardinalities))
        out: dict[str, dict] = {}
        for g in np.unique(self.space.canonical_genes(rows), axis=0) if len(rows) else rows:
            arch = self.space.from_genes(g)
            out[self.space.format(arch)] = arch
        return out

    @property
    def n_evaluated(self) -> int:
        return sum(t.state in (COMPLETE, FAILED) for t in self.trials)

    @property
    def catalog_size(self) -> int | None:
        """Distinct (canonical) architectures the evaluator's catalog holds; None without a catalog."""
        return None if self._catalog is None else len(self._catalog)

    @property
    def exhausted(self) -> bool:
        """Whether every architecture there is to evaluate (the catalog's, else the space's) is recorded."""
        if self._catalog is not None:
            return self._catalog_done >= len(self._catalog)
        return self.n_evaluated >= self.space.size

    # ------------------------------------------------------------------ loop
    def optimize(self, budget: int, callbacks: Sequence[Callable[[Study, list[Trial]], None]] = ()) -> list[Trial]:
        """Evaluate until ``budget`` distinct architectures are recorded in total (resumed ones included)."""
        if budget < 1:
            raise ValueError(f"budget must be >= 1, got {budget}")
        stall = 0
        while self.n_evaluated < budget and not self.exhausted:
            n = min(self.batch_size, budget - self.n_evaluated)
            batch = self._fresh(self.strategy.ask(n), n)
            if not batch:
                stall += 1
                if stall < _STALL_LIMIT:
                    continue
                batch = self._random_unseen(n)
                if not batch:
                    break  # the whole space is evaluated
            stall = 0
            done = self._evaluate(batch)
            self.strategy.tell(done)
            for cb in callbacks:
                cb(self, done)
        return self.trials

    def _fresh(self, archs, n: int) -> list[tuple[str, dict]]:
        out, keys = [], set()
        for arch in archs:
            canon = self.space.canonical(self.space.validate(arch))
            key = self.space.format(canon)
            if self._catalog is not None and key not in self._catalog:
                self.outside_catalog += 1  # nothing to evaluate it with: not a trial, not budget
                continue
            if key in self._cache or key in keys:
                self.served_from_cache += 1
                continue
            keys.add(key)
            out.append((key, canon))
            if len(out) == n:
                break
        return out

    def _random_unseen(self, n: int) -> list[tuple[str, dict]]:
        if self._catalog is not None:
            unseen = [k for k in self._catalog if k not in self._cache]
            picks = self._rng.permutation(len(unseen))[:n]
            return [(unseen[i], self._catalog[unseen[i]]) for i in sorted(picks)]
        for _ in range(50):
            cand = [self.space.from_genes(g) for g in self.space.sample_genes(self._rng, 4 * n)]
            fresh = self._fresh(cand, n)
            if fresh:
                return fresh
        return []

    def _evaluate(self, batch: list[tuple[str, dict]]) -> list[Trial]:
        start = len(self.trials)
        pending = []
        for i, (key, arch) in enumerate(batch):
            t = Trial(number=start + i, key=key, arch=arch, state=RUNNING)
            self.storage.write(self.name, t)
            pending.append(t)
        self.trials.extend(pending)
        for i, (metrics, error, seconds) in self.executor.run(evaluate_one, self.evaluator, [a for _, a in batch]):
            t = pending[i]
            t.state, t.metrics, t.error, t.duration_s = (
                (COMPLETE, metrics, None, seconds) if metrics is not None else (FAILED, {}, error, seconds)
            )
            self.storage.write(self.name, t)
            self._cache[t.key] = t
            self._catalog_done += self._catalog is not None and t.key in self._catalog
        return pending

    # ------------------------------------------------------------------ results
    def pareto_front(self) -> list[Trial]:
        """Feasible, completed trials that no other feasible trial dominates, best first objective first."""
        ok = [t for t in self.trials if t.feasible(self.constraints)]
        if not ok:
            return []
        F = np.stack([t.values(self.objectives) for t in ok])
        front = [t for t, keep in zip(ok, nondominated_mask(F)) if keep]
        return sorted(front, key=lambda t: tuple(t.values(self.objectives)))
