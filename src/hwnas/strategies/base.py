"""The Strategy contract (ask/tell).

A strategy only proposes and learns: it never evaluates and never touches
storage. The study asks it for architectures, evaluates them (in process, in a
pool or on a cluster), writes each record, and only then tells the strategy.
Resuming a study is therefore: make a fresh strategy, tell it every stored
trial in order, and go on asking.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np

from hwnas.core.objectives import Constraint, Objective
from hwnas.core.trial import Trial
from hwnas.spaces.base import Arch, ChoiceSpace


class Strategy(ABC):
    """Proposes architectures and learns from evaluated trials.

    Lifecycle: ``setup`` once, then any interleaving of ``ask`` and ``tell``.
    ``ask`` should avoid architectures already told (the study serves repeats
    from cache and does not count them against the budget, but they waste a
    proposal). ``tell`` receives trials in evaluation order, failed ones too.
    """

    #: registry name
    name: str = "strategy"
    #: how many architectures the study asks for at once when it is not told a batch size
    preferred_batch: int = 1
    #: the evaluator's catalog, set by :meth:`attach` (None: no catalog, or not attached)
    _catalog = None
    #: the evaluator's declared kind and unit of each metric, set by :meth:`attach` (empty: not attached)
    metric_kinds: dict = {}

    def setup(
        self,
        space: ChoiceSpace,
        objectives: Sequence[Objective],
        constraints: Sequence[Constraint] = (),
        seed: int = 0,
    ) -> None:
        self.space = space
        self.objectives = list(objectives)
        self.constraints = list(constraints)
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.trials: list[Trial] = []
        self.seen: set[str] = set()
        #: id(trial) -> (trial, its row), filled by :meth:`genes_of` and :meth:`objective_matrix`
        self._genes_by_trial: dict[int, tuple[Trial, np.ndarray]] = {}
        self._values_by_trial: dict[int, tuple[Trial, np.ndarray]] = {}
        self.allowed, self.allowed_codes = self._allowed(space)

    def attach(self, evaluator) -> None:
        """Called by the study before ``setup`` with its evaluator, so a strategy may read static facts
        of it. Never used to evaluate. The base keeps its :meth:`~hwnas.evaluators.base.Evaluator.catalog`
        (a table's architectures, in row order): proposals then stay among the architectures it can answer for,
        and its :meth:`~hwnas.evaluators.base.Evaluator.metric_kinds` (which metrics are costs, in which units)."""
        catalog = getattr(evaluator, "catalog", None)
        self._catalog = catalog() if callable(catalog) else None
        kinds = getattr(evaluator, "metric_kinds", None)
        self.metric_kinds = dict(kinds()) if callable(kinds) else {}

    def _allowed(self, space: ChoiceSpace) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Canonical gene rows (and their sorted codes) of the catalog when it holds only part of the space, else None.

        A table that covers every canonical architecture restricts nothing (proposals are then
        drawn from the space as without a table, so results do not depend on the table's row order).
        """
        catalog = getattr(self, "_catalog", None)
        if catalog is None or len(catalog) == 0:
            return None, None
        canon = np.unique(space.canonical_genes(np.asarray(catalog, dtype=np.int64)), axis=0)
        every = space.enumerate_genes(max(200_000, len(canon)))
        if every is not None and len(canon) == len(np.unique(space.canonical_genes(every), axis=0)):
            return None, None
        return canon, np.unique(space.gene_codes(canon))

    @abstractmethod
    def ask(self, n: int) -> list[Arch]:
        """Up to ``n`` architectures to evaluate next (at least one)."""

    def tell(self, trials: Sequence[Trial]) -> None:
        """Learn from evaluated trials. Subclasses extend; call ``super().tell``."""
        for t in trials:
            self.trials.append(t)
            self.seen.add(t.key)

    def options(self) -> dict:
        """The strategy's settings, stored with a study (a resumed study must use the same)."""
        return {}

    # -------------------------------------------------------------- helpers for subclasses
    def completed(self) -> list[Trial]:
        return [t for t in self.trials if t.ok]

    def objective_matrix(self, trials: Sequence[Trial]) -> np.ndarray:
        """Minimised objective values of ``trials`` (n, objectives), each trial's row computed once and kept."""
        if not trials:
            return np.zeros((0, len(self.objectives)))
        return _rows(self._values_by_trial, trials, lambda ts: [t.values(self.objectives) for t in ts])

    def genes_of(self, trials: Sequence[Trial]) -> np.ndarray:
        """Gene rows of ``trials`` (n, dims), each trial's architecture converted once and kept: a strategy
        asks for the rows of every told trial on each ask, and converting them again is quadratic in the budget."""
        if not trials:
            return np.zeros((0, len(self.space.cardinalities)), dtype=np.int64)
        return _rows(self._genes_by_trial, trials, lambda ts: self.space.genes_matrix([t.arch for t in ts]))

    def violation(self, trials: Sequence[Trial]) -> np.ndarray:
        """Total constraint violation of each trial (0 = feasible)."""
        v = np.zeros(len(trials))
        for c in self.constraints:
            v += c.violation(np.array([t.metrics.get(c.metric, np.nan) for t in trials], dtype=float))
        return v


def _rows(cache: dict, trials: Sequence[Trial], convert) -> np.ndarray:
    """Rows of ``trials`` stacked, ``convert(missing trials)`` giving the rows of those not in ``cache``
    (id(trial) -> (trial, row); the trial itself is kept, so its id is never reused)."""
    missing = [t for t in trials if cache.get(id(t), (None,))[0] is not t]
    if missing:
        for t, row in zip(missing, convert(missing)):
            cache[id(t)] = (t, row)
    return np.stack([cache[id(t)][1] for t in trials])
