"""Predictor-guided multi-objective search (the default strategy), after DyNAS-T's LINAS.

Per batch (5 architectures by default): fit one surrogate per objective and constrained metric on
every completed trial (:class:`~hwnas.strategies.linas.models.MetricModels`), predict every
candidate (:mod:`~hwnas.strategies.linas.candidates`), and pick the batch greedily by expected
hypervolume improvement (:class:`~hwnas.strategies.linas.acquisition.BatchEHVI`). The first
``n_init`` architectures are a balanced design over the choices, as the space adjusts it
(:meth:`~hwnas.spaces.base.ChoiceSpace.design_genes`: a quantized space gives half of them a uniform policy).

Options, each with the measurement that set its default in ``benchmarks/results/bench_table.md``:
``n_init`` (12), ``n_members`` (16), ``batch`` (5), ``ref_quantile`` (0.4), ``warp`` (``rank``,
qualities) and ``cost_warp`` (``none``: costs in their own units), ``cost_views`` (encodings chosen
by cross-validation), ``prune_redundant`` (cells running code that feeds nothing are no
candidates), ``quality_surrogate`` / ``quality_surrogate_after`` (``gp`` from 75 usable
evaluations: a ridge reads the space globally, which a search needs while it knows little; once it
has homed in, what separates the front's missing members from their evaluated neighbours is local,
which a Gaussian process follows), ``cost_surrogate`` / ``cost_surrogate_after`` (``ridge_gp`` from 100:
the ridge on executed work plus a Gaussian process on what it leaves, each measured architecture's own
deviation), ``quality_ref`` / ``quality_ref_after`` (from 100 evaluations
on, a quality objective's reference is the space's median read from the predicted order, not a
quantile of shrunk predictions).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from threadpoolctl import ThreadpoolController

from hwnas.core.errors import ConfigError
from hwnas.core.objectives import Constraint, Objective
from hwnas.core.pareto import nondominated_mask
from hwnas.core.trial import Trial
from hwnas.evaluators.base import kind_from_name
from hwnas.learn.surrogate import SURROGATES
from hwnas.spaces.base import Arch, ChoiceSpace
from hwnas.spaces.product import uniform_genes
from hwnas.strategies.base import Strategy
from hwnas.strategies.cost_views import CostViews
from hwnas.strategies.linas.acquisition import BatchEHVI, space_median
from hwnas.strategies.linas.candidates import EnumeratedPool, InnerSearch, balanced_design
from hwnas.strategies.linas.models import WARPS, Candidates, Encoded, MetricModels, Predictions
from hwnas.strategies.random import fresh_genes, random_unseen_genes
from hwnas.strategies.ranking import best_order

#: spaces with at most this many members are enumerated (the candidate pool), larger ones searched
POOL_LIMIT = 100_000
#: networks holding one block setting at every block that start the inner search (product spaces of one block space)
UNIFORM_STARTS = 16
#: evaluations between two rankings of those networks on the predictions
UNIFORM_EVERY = 50
#: architectures drawn uniformly from the space to read a quality's median from
REFERENCE_SIZE = 2048


_THREADPOOLS: list[ThreadpoolController] = []


def _threadpools() -> ThreadpoolController:
    """The process's BLAS/OpenMP thread pools, found once (finding them reads every loaded library: ms per ask)."""
    if not _THREADPOOLS:
        _THREADPOOLS.append(ThreadpoolController())
    return _THREADPOOLS[0]


def _check_surrogate(role: str, name: str | None, after: int) -> None:
    """``<role>_surrogate`` is a known surrogate or None, ``<role>_surrogate_after`` is >= 0."""
    if name is not None and name not in SURROGATES:
        raise ConfigError(f"linas: {role}_surrogate {name!r} is not known; "
                          f"choose one of {SURROGATES.available()} or leave it unset (= ridge)")
    if after < 0:
        raise ConfigError(f"linas: {role}_surrogate_after must be >= 0, got {after}")


class LinasStrategy(Strategy):
    """Surrogates per metric + vectorised candidate scoring + batch expected-hypervolume-gain selection."""

    name = "linas"
    preferred_batch = 5

    def __init__(
        self,
        n_init: int = 12,
        n_members: int = 16,
        ref_quantile: float = 0.4,
        warp: str = "rank",
        batch: int = 5,
        cost_views: bool = True,
        prune_redundant: bool = True,
        quality_ref: str = "ranked",
        quality_ref_after: int = 100,
        quality_surrogate: str | None = "gp",
        quality_surrogate_after: int = 75,
        cost_warp: str | None = "none",
        cost_surrogate: str | None = "ridge_gp",
        cost_surrogate_after: int = 100,
    ):
        if n_init < 2:
            raise ConfigError(f"linas: n_init must be >= 2, got {n_init}")
        if n_members < 1:
            raise ConfigError(f"linas: n_members must be >= 1, got {n_members}")
        if not 0.0 < ref_quantile <= 1.0:
            raise ConfigError(f"linas: ref_quantile must be in (0, 1], got {ref_quantile}")
        _check_surrogate("quality", quality_surrogate, quality_surrogate_after)
        _check_surrogate("cost", cost_surrogate, cost_surrogate_after)
        if warp not in WARPS:
            raise ConfigError(f"linas: warp {warp!r} not allowed; choose 'rank', 'log' or 'none'")
        if cost_warp is not None and cost_warp not in WARPS:
            raise ConfigError(f"linas: cost_warp {cost_warp!r} not allowed; choose 'rank', 'log', 'none' "
                              "or leave it unset (= warp)")
        if batch < 1:
            raise ConfigError(f"linas: batch must be >= 1, got {batch}")
        if quality_ref not in ("ranked", "predicted"):
            raise ConfigError(f"linas: quality_ref {quality_ref!r} not allowed; choose 'ranked' or 'predicted'")
        self.n_init = int(n_init)
        self.n_members = int(n_members)
        self.ref_quantile = float(ref_quantile)
        self.warp, self.cost_warp = warp, cost_warp
        self.preferred_batch = int(batch)
        self.cost_views = bool(cost_views)
        self.prune_redundant = bool(prune_redundant)
        self.quality_ref, self.quality_ref_after = quality_ref, int(quality_ref_after)
        self.quality_surrogate, self.quality_surrogate_after = quality_surrogate, int(quality_surrogate_after)
        self.cost_surrogate, self.cost_surrogate_after = cost_surrogate, int(cost_surrogate_after)
        #: candidates of a space too big to enumerate
        self.inner = InnerSearch(prune=self.prune_redundant)

    def options(self) -> dict:
        return {
            "n_init": self.n_init, "n_members": self.n_members, "ref_quantile": self.ref_quantile,
            "warp": self.warp, "batch": self.preferred_batch, "cost_views": self.cost_views,
            "prune_redundant": self.prune_redundant, "quality_ref": self.quality_ref,
            "quality_ref_after": self.quality_ref_after, "cost_warp": self.cost_warp,
            "quality_surrogate": self.quality_surrogate, "quality_surrogate_after": self.quality_surrogate_after,
            "cost_surrogate": self.cost_surrogate, "cost_surrogate_after": self.cost_surrogate_after,
        }

    # ------------------------------------------------------------------ lifecycle
    def setup(
        self,
        space: ChoiceSpace,
        objectives: Sequence[Objective],
        constraints: Sequence[Constraint] = (),
        seed: int = 0,
    ) -> None:
        super().setup(space, objectives, constraints, seed)
        self._metrics = list(dict.fromkeys([o.metric for o in self.objectives] + [c.metric for c in self.constraints]))
        kinds = {m: self.metric_kinds.get(m) or kind_from_name(m) for m in self._metrics}
        self.models = MetricModels(
            space, self._metrics,
            costs={m for m, k in kinds.items() if k.is_cost}, qualities={m for m, k in kinds.items() if not k.is_cost},
            maximised={o.metric for o in self.objectives if o.sign < 0},
            warp=self.warp, cost_warp=self.cost_warp, quality_surrogate=self.quality_surrogate,
            quality_surrogate_after=self.quality_surrogate_after, n_members=self.n_members, seed=self.seed,
            views=CostViews(space, self._catalog) if self.cost_views else None,
            cost_surrogate=self.cost_surrogate, cost_surrogate_after=self.cost_surrogate_after)
        self.acquisition = BatchEHVI(self.objectives, self.constraints, self.ref_quantile)
        self.inner.reset()  # a population carried from another search does not belong to this one
        genes = self.allowed if self.allowed is not None else space.enumerate_genes(POOL_LIMIT)
        self.pool = EnumeratedPool(space, genes, self.prune_redundant) if genes is not None else None
        # the architectures a quality reference is the median of: the space drawn uniformly (as a table of
        # the whole space lists them: every architecture once), or a partial table's rows
        ref_genes = self.allowed if self.allowed is not None else space.enumerate_genes(min(POOL_LIMIT, 20_000))
        draw = np.random.default_rng(self.seed + 1)  # its own stream: the search's draws do not depend on it
        if ref_genes is None:
            ref_genes = space.sample_genes(draw, REFERENCE_SIZE)
        elif len(ref_genes) > REFERENCE_SIZE:
            ref_genes = ref_genes[draw.choice(len(ref_genes), REFERENCE_SIZE, replace=False)]
        self._reference = Encoded(ref_genes, space.features(ref_genes), fixed=True)
        # a product of one enumerable block space: its networks repeating one block setting, ranked on the
        # predictions every UNIFORM_EVERY evaluations, start the inner search (_uniform_starts)
        uniform = uniform_genes(space, POOL_LIMIT, self.prune_redundant) if self.pool is None else None
        self._uniform = Encoded(uniform, space.features(uniform), fixed=True) if uniform is not None else None
        self._uniform_at: int | None = None
        self._uniform_best: np.ndarray | None = None
        if self.allowed is not None:  # a table of part of the space: start among its rows
            self._design = self.pool.genes[self.rng.choice(len(self.pool), min(self.n_init, len(self.pool)),
                                                           replace=False)]
        else:
            self._design = space.design_genes(balanced_design(space.cardinalities, self.n_init, self.rng), self.rng)
            if self.prune_redundant:
                self._design = space.function_genes(self._design)

    def tell(self, trials: Sequence[Trial]) -> None:
        super().tell(trials)
        if self.pool is not None:
            self.pool.tell(trials)

    def _usable(self) -> list[Trial]:
        """Completed trials with a finite value for every modelled metric."""
        return [t for t in self.completed() if all(np.isfinite(t.metrics.get(m, np.nan)) for m in self._metrics)]

    # ------------------------------------------------------------------ ask
    def ask(self, n: int) -> list[Arch]:
        # small dense algebra: BLAS threads only add contention (and jitter on a shared machine)
        with _threadpools().limit(limits=1):
            return self._ask(max(int(n), 1))

    def _ask(self, n: int) -> list[Arch]:
        trials = self._usable()
        taken: set = set()
        if len(trials) < self.n_init or len(trials) < 2:
            return self._initial(n, taken)
        genes = self.genes_of(trials)
        self.models.fit(genes, {m: np.array([t.metrics[m] for t in trials], dtype=float) for m in self._metrics})
        if self.pool is not None:
            cand, pred = self.pool.candidates(), None
        else:
            cand, pred = self.inner.candidates(self, trials, taken, self._predict, self._score,
                                                 self._uniform_starts(len(trials)))
        if len(cand) == 0:
            return [self.space.from_genes(g) for g in random_unseen_genes(self, n, taken)]
        picks = self._select(trials, cand, n, pred)
        return [self.space.from_genes(cand.genes[i]) for i in picks]

    def _uniform_starts(self, n: int) -> np.ndarray | None:
        """The ``UNIFORM_STARTS`` networks repeating one block setting that the mean predictions rank best
        (None outside a product of one enumerable block space), re-ranked once ``UNIFORM_EVERY`` evaluations
        have joined since the last ranking (``n``: usable evaluations now). The inner search moves from the
        evaluated networks a few genes or one block at a time; a cell the surrogates rank high but no
        evaluated network holds at every stage is reached from here."""
        if self._uniform is None:
            return None
        if self._uniform_at is None or n - self._uniform_at >= UNIFORM_EVERY:
            F, V = self._mean_objectives(self._uniform)
            self._uniform_best = self._uniform.genes[best_order(F, V, UNIFORM_STARTS)]
            self._uniform_at = n
        return self._uniform_best

    def _initial(self, n: int, taken: set) -> list[Arch]:
        design = fresh_genes(self, self._design, taken)[:n]
        for _ in range(20 if self.prune_redundant else 0):  # top up with random cells reduced to their function
            if len(design) >= n:
                break
            extra = self.space.function_genes(self.space.sample_genes(self.rng, max(2 * (n - len(design)), 8)))
            design = np.vstack([design, fresh_genes(self, extra, taken)[: n - len(design)]])
        if len(design) < n:
            design = np.vstack([design, random_unseen_genes(self, n - len(design), taken)])
        return [self.space.from_genes(g) for g in design]

    def _predict(self, genes: np.ndarray) -> tuple[Encoded, Predictions]:
        """Gene rows encoded once (every view a model reads computed once) and every metric's member predictions."""
        enc = Encoded(genes, self.space.features(genes))
        return enc, self.models.predict(Candidates(enc))

    def _score(self, pred: Predictions) -> tuple[np.ndarray, np.ndarray]:
        """Mean predicted minimised objectives and constraint violation of predicted rows (the inner search's fitness)."""
        members = {m: pred.members(m) for m in pred.latent}
        return self.acquisition.objective_members(members).mean(axis=0), self.acquisition.violation_of_mean(members)

    def _select(self, trials: list[Trial], cand: Candidates, n: int, pred: Predictions | None = None) -> list[int]:
        """``pred``: the candidates' predictions when already made (else predicted here)."""
        pred = self.models.predict(cand) if pred is None else pred
        mean, violation, region = self.acquisition.summarise(pred)
        ref = self.acquisition.reference(region if self.pool is not None else self._reference_region())
        F_obs = self.objective_matrix(trials)
        if self.quality_ref == "ranked" and len(trials) >= self.quality_ref_after:
            for j, o in enumerate(self.objectives):
                if o.sign < 0:  # maximised: a quality
                    ref[j] = self._space_median(o.metric, F_obs[:, j])
        ref = np.maximum(ref, region.min(axis=0) + 1e-9)  # keep the best predictions strictly inside
        front = F_obs[self.violation(trials) <= 0]
        front = front[nondominated_mask(front)] if len(front) else front.reshape(0, mean.shape[1])
        return self.acquisition.select(pred, mean, violation, front, ref, n)

    def _mean_objectives(self, encoded: Encoded) -> tuple[np.ndarray, np.ndarray]:
        """Predicted mean objectives (minimised) and constraint violation of every row of an encoded set."""
        mean = {m: self.models.units(m, self.models.predict_mean(m, encoded))[None, :] for m in self._metrics}
        return self.acquisition.objective_members(mean)[0], self.acquisition.violation_of_mean(mean)

    def _reference_region(self) -> np.ndarray:
        """Predicted mean objectives (minimised) of the architectures drawn uniformly from the space, the
        predicted-feasible ones when at least 10: the region the reference quantile is read from when the
        candidates come from an inner search (they crowd around the predicted front, so a quantile of
        theirs sits far better than the space's and the batch is drawn to one end of the front)."""
        region, violation = self._mean_objectives(self._reference)
        ok = violation <= 0
        return region[ok] if ok.sum() >= 10 else region

    def _space_median(self, metric: str, observed: np.ndarray) -> float:
        """The space's median of a quality objective (minimised sign), in observed units, from the predicted order
        (:func:`~hwnas.strategies.linas.acquisition.space_median`) of the evaluated rows (the last fit's)."""
        here = self.models.predict_mean_train(metric)
        return space_median(here, self.models.predict_mean(metric, self._reference), observed)
