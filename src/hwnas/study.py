"""The search loop: ask the strategy, claim, evaluate, record, tell; alone or as one of many workers.

The budget counts distinct evaluations (complete or failed). Architectures are
canonicalised first; one already evaluated is served from the cache and costs
nothing. When the evaluator holds a catalog (a table), proposals outside it are
dropped uncounted, and the search stops once every architecture of the catalog is
evaluated (:attr:`Study.exhausted`), whatever budget is left. Every result is
written to storage before the strategy hears of it.

**Resuming.** A study re-opened from its storage is rebuilt by *replay*: a fresh
strategy is asked round by round as the first run asked it, and answered from the
stored records instead of evaluating, so its state (random streams included) is
the one it had; the replay stops at the first round storage cannot answer in full.
A round that was in flight when the process died (its architectures claimed,
some still ``running``) is then asked again live and its unfinished evaluations
run again, once: a study killed at any point and resumed with the same seed and
budget records what an uninterrupted run records. Stored records the replay does
not reach (another worker's, or a strategy that does not replay) are told to the
strategy at once.

**Many workers.** Processes (on one machine or many) running the same config
against one database share the study (see :mod:`hwnas.storage`): before each
round a worker tells its strategy the records others have written since; it
claims the architectures it proposes (one already claimed by another worker is
skipped, one already recorded is taken from storage); the budget counts every
worker's trials; while it evaluates, a background thread refreshes the heartbeat
of its claims; and a running trial whose owner is gone (silent for ``grace_s``,
or, on this machine, a process that no longer exists) is taken over by the first
worker that sees it, at most ``max_retries`` times before it is recorded failed.
A worker that stops cleanly (Ctrl-C included) gives its claims back.
"""

from __future__ import annotations

import copy
import math
import time
import traceback
from collections.abc import Callable, Sequence

import numpy as np

from hwnas.core.errors import ConfigError, EvaluationFailed, HwnasError
from hwnas.core.objectives import Constraint, Objective
from hwnas.core.pareto import nondominated_mask
from hwnas.core.trial import COMPLETE, FAILED, RUNNING, Trial
from hwnas.evaluators.base import Evaluator
from hwnas.executors import Executor
from hwnas.spaces.base import ChoiceSpace
from hwnas.storage import InMemoryStorage, Running, Storage, stale_reason
from hwnas.strategies.base import Strategy
from hwnas.worker import Heartbeat, known_dead, new_worker_id

#: proposals in a row that bring nothing new before the study fills in random unseen architectures
_STALL_LIMIT = 20
#: defaults of the worker settings (config ``study.heartbeat_s``, ``study.grace_s``, ``study.max_retries``)
HEARTBEAT_S, GRACE_S, MAX_RETRIES = 10.0, 60.0, 2


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
    """A multi-objective search over ``space`` with ``evaluator``, driven by ``strategy``.

    ``heartbeat_s``, ``grace_s`` and ``max_retries`` matter when several workers share the storage: how often
    this worker refreshes the heartbeat of its claims, after how long without one another worker's claim is
    taken over, and how many times one evaluation is taken over before it is recorded failed.
    """

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
        heartbeat_s: float = HEARTBEAT_S,
        grace_s: float = GRACE_S,
        max_retries: int = MAX_RETRIES,
    ):
        if not objectives:
            raise ValueError("a study needs at least one objective")
        if not 0 < heartbeat_s < grace_s:
            raise ConfigError(f"study.heartbeat_s ({heartbeat_s}) must be > 0 and below study.grace_s ({grace_s}): "
                              "a live worker's claims must not look abandoned between two heartbeats")
        if max_retries < 0:
            raise ConfigError(f"study.max_retries must be >= 0, got {max_retries}")
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
        self.heartbeat_s, self.grace_s, self.max_retries = float(heartbeat_s), float(grace_s), int(max_retries)
        #: this process's name on the trials it claims (see :mod:`hwnas.worker`)
        self.worker = new_worker_id()
        missing = [m for m in [o.metric for o in self.objectives] + [c.metric for c in self.constraints]
                   if evaluator.metrics and m not in evaluator.metrics]
        if missing:
            raise HwnasError(f"metric(s) {missing} are not produced by the evaluator; it produces {list(evaluator.metrics)}")
        evaluator.bind(space)
        self.storage.open_study(name, self.fingerprint())
        stored = self.storage.trials(name)
        #: trials this worker knows: every record it told its strategy, and its own evaluations in flight
        self.trials: list[Trial] = []
        self._cache: dict[str, Trial] = {}
        #: keys of the finished records this worker knows
        self._known: set[str] = set()
        self._catalog = self._catalog_keys(evaluator)
        self._catalog_done = 0
        #: proposals outside the evaluator's catalog, dropped before evaluation (never counted)
        self.outside_catalog = 0
        self.served_from_cache = 0
        self._stall = 0
        #: the round in flight when the study was stopped (its keys), asked again first; its records wait for it
        self._held: set[str] = set()
        self._held_done = 0
        #: evaluations left running by a stopped or dead worker, found when the study was opened
        self.interrupted = [t for t in stored if t.state == RUNNING and t.key in self._abandoned()]
        self.strategy.attach(evaluator)
        self.strategy.setup(space, self.objectives, self.constraints, seed)
        self._rng = np.random.default_rng(seed + 7919)
        #: rounds rebuilt from storage when the study was opened
        self.replayed_rounds = self._replay(stored)
        self._sync(stored=stored)

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

    # ------------------------------------------------------------------ what this worker knows
    def _learn(self, trials: Sequence[Trial]) -> None:
        """Add finished records to what this worker knows (the strategy is told by the caller)."""
        for t in trials:
            if t.key not in self._known:
                self._known.add(t.key)
                self._catalog_done += self._catalog is not None and t.key in self._catalog
            old = self._cache.get(t.key)
            if old is not t:
                if old is not None:
                    self.trials.remove(old)
                self.trials.append(t)
                self._cache[t.key] = t

    def _sync(self, finished: int | None = None, stored: list[Trial] | None = None) -> None:
        """Tell the strategy the finished records it has not heard of (other workers', or past the replay),
        in creation order; records of the held round wait for it. ``finished``: the stored count, when known."""
        if stored is None:
            if finished is None:
                finished, _ = self.storage.counts(self.name)
            if finished == len(self._known) + self._held_done:
                return
            stored = self.storage.trials(self.name)
        new = [t for t in stored if t.state != RUNNING and t.key not in self._held and t.key not in self._known]
        if new:
            self._learn(new)
            self.strategy.tell(new)

    def _abandoned(self) -> set[str]:
        """Keys of running trials whose owner is gone (given back, a dead process here, or silent too long)."""
        return {r.key for r in self.storage.running(self.name)
                if r.worker is None or (r.worker != self.worker and (
                    known_dead(r.worker) or r.age_s is None or r.age_s > self.grace_s))}

    # ------------------------------------------------------------------ rebuilding from storage
    def _snapshot(self):
        """The state a round changes (strategy, the study's random stream and counters), to undo an ask."""
        memo = {id(self.strategy): self.strategy, id(self.space): self.space, id(self.evaluator): self.evaluator}
        try:
            return copy.deepcopy((vars(self.strategy), self._rng, self._stall, self.served_from_cache,
                                  self.outside_catalog), memo)
        except Exception:  # noqa: BLE001 - a strategy that cannot be copied is rebuilt by telling (below)
            return None

    def _restore(self, snap) -> None:
        state, self._rng, self._stall, self.served_from_cache, self.outside_catalog = snap
        vars(self.strategy).clear()
        vars(self.strategy).update(state)

    def _replay(self, stored: list[Trial]) -> int:
        """Ask the strategy as the stored run did, answering from ``stored``; return the rounds replayed."""
        finished = {t.key: t for t in stored if t.state != RUNNING}
        claimed = {t.key for t in stored}
        everything = self._catalog.keys() if self._catalog is not None else None
        if (len(finished) >= self.space.size if everything is None else everything <= finished.keys()):
            return 0  # nothing is left to ask: the records are told as they are
        rounds = 0
        while len(self._known) < len(finished):
            snap = self._snapshot() if len(finished) - len(self._known) <= self.batch_size else None
            batch = self._propose(self.batch_size)
            if batch is None:
                break
            keys = [k for k, _ in batch]
            if all(k in finished for k in keys):
                done = [finished[k] for k in keys]
                self._learn(done)
                self.strategy.tell(done)
                rounds += 1
                continue
            if snap is not None:  # undo this ask: the live loop asks it again, with the budget's batch size
                self._restore(snap)
                if all(k in claimed for k in keys):  # the round in flight when the study stopped
                    self._held = set(keys)
                    self._held_done = sum(k in finished for k in keys)
            break
        return rounds

    # ------------------------------------------------------------------ loop
    def optimize(self, budget: int, callbacks: Sequence[Callable[[Study, list[Trial]], None]] = ()) -> list[Trial]:
        """Evaluate until ``budget`` distinct architectures are recorded in total (resumed ones and other
        workers' included)."""
        if budget < 1:
            raise ValueError(f"budget must be >= 1, got {budget}")
        beat = Heartbeat(lambda: self.storage.heartbeat(self.name, self.worker), self.heartbeat_s) \
            if self.storage.shared else None
        empty = 0  # rounds in a row whose proposals were all claimed by other workers
        try:
            while True:
                finished, total = self.storage.counts(self.name)
                self._sync(finished)
                if self.n_evaluated >= budget or self.exhausted:
                    break
                done = self._take_over_abandoned() if total > finished and not self._held else []
                if not done:
                    if total >= budget and not self._held:  # the rest of the budget is in other workers' hands
                        time.sleep(self._poll_s)
                        continue
                    batch = self._propose(min(self.batch_size, budget - self.n_evaluated))
                    if batch is None:
                        break  # the whole space is evaluated
                    done = self._round(batch, budget)
                    if not done:  # everything proposed is being evaluated elsewhere: propose again, soon
                        empty += 1
                        if empty % 4 == 0:
                            time.sleep(self._poll_s / 10)
                        continue
                    empty = 0
                self.strategy.tell(done)
                for cb in callbacks:
                    cb(self, done)
        finally:
            if beat is not None:
                beat.stop()
            self.storage.release(self.name, self.worker)
        self._held, self._held_done = set(), 0  # a held round not asked again: its records are told next time
        self.trials.sort(key=lambda t: t.number)
        return self.trials

    @property
    def _poll_s(self) -> float:
        """How long to wait before looking at other workers' progress again."""
        return min(1.0, self.heartbeat_s / 2)

    def _propose(self, n: int) -> list[tuple[str, dict]] | None:
        """One round's new architectures: the strategy's proposals less repeats; after ``_STALL_LIMIT`` rounds
        that bring nothing new, random unseen ones; None when there are none left."""
        while True:
            batch = self._fresh(self.strategy.ask(n), n)
            if batch:
                self._stall = 0
                return batch
            self._stall += 1
            if self._stall < _STALL_LIMIT:
                continue
            batch = self._random_unseen(n)
            if not batch:
                return None
            self._stall = 0
            return batch

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

    def _round(self, batch: list[tuple[str, dict]], budget: int) -> list[Trial]:
        """Claim ``batch``, evaluate what this worker won, return the round's records in proposal order.

        Architectures recorded by others are taken from storage; ones others are evaluating are left to them,
        except in the held round (the one in flight when the study stopped), which waits for them, or takes
        them over once their owner is gone, so that it is told whole, as it was first run."""
        held, self._held, self._held_done = self._held, set(), 0
        claim = self.storage.claim(self.name, self.worker, batch, budget)
        got = {t.key: t for t in claim.recorded}
        mine = list(claim.mine)
        busy = set(claim.busy) if held else set()
        while busy:
            taken, failed = self.storage.requeue(self.name, self.worker, self.grace_s, self.max_retries,
                                                 dead=self._dead(), only=busy)
            mine += taken
            got.update({t.key: t for t in failed})
            busy -= {t.key for t in taken + failed}
            if busy:
                got.update({t.key: t for t in self.storage.trials(self.name) if t.key in busy and t.state != RUNNING})
                busy -= set(got)
                if busy:
                    time.sleep(self._poll_s)
        got.update({t.key: t for t in self._evaluate(mine)})
        done = [got[k] for k, _ in batch if k in got]
        self._learn(done)
        return done

    def _dead(self, running: list[Running] | None = None) -> set[str]:
        """Owners of running trials known to be dead (a process of this machine that no longer exists)."""
        running = self.storage.running(self.name) if running is None else running
        return {r.worker for r in running if r.worker and r.worker != self.worker and known_dead(r.worker)}

    def _take_over_abandoned(self) -> list[Trial]:
        """Evaluate the running trials of workers that are gone (and record those past their retries)."""
        running = self.storage.running(self.name)
        dead = self._dead(running)
        if not any(stale_reason(r, self.worker, self.grace_s, dead) for r in running if r.key not in self._held):
            return []
        taken, failed = self.storage.requeue(self.name, self.worker, self.grace_s, self.max_retries,
                                             dead=dead, skip=self._held)
        if not taken and not failed:
            return []
        done = sorted(self._evaluate(taken) + failed, key=lambda t: t.number)
        self._learn(done)
        return done

    def _evaluate(self, claimed: list[Trial]) -> list[Trial]:
        """Evaluate this worker's claims and write each result the moment it exists; return those written
        (a claim taken over meanwhile, because this worker looked dead, is left to its new owner)."""
        if not claimed:
            return []
        self.trials.extend(claimed)
        for t in claimed:
            self._cache[t.key] = t
        kept = []
        for i, (metrics, error, seconds) in self.executor.run(evaluate_one, self.evaluator, [t.arch for t in claimed]):
            t = claimed[i]
            t.state, t.metrics, t.error, t.duration_s = (
                (COMPLETE, metrics, None, seconds) if metrics is not None else (FAILED, {}, error, seconds)
            )
            if self.storage.finish(self.name, self.worker, t):
                kept.append(t)
            else:
                t.state = RUNNING
                self.trials.remove(t)
                del self._cache[t.key]
        return [t for t in claimed if t in kept]

    # ------------------------------------------------------------------ results
    def pareto_front(self) -> list[Trial]:
        """Feasible, completed trials that no other feasible trial dominates, best first objective first."""
        ok = [t for t in self.trials if t.feasible(self.constraints)]
        if not ok:
            return []
        F = np.stack([t.values(self.objectives) for t in ok])
        front = [t for t, keep in zip(ok, nondominated_mask(F)) if keep]
        return sorted(front, key=lambda t: tuple(t.values(self.objectives)))
