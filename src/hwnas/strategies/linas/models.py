"""One surrogate per modelled metric: its target warp, its input encoding (view) and its updates.

Targets of quality metrics are rank-warped (Gaussian copula, :mod:`hwnas.learn.warp`), so a few
broken cells at 10% accuracy do not drag the fit; costs are fitted in their own units by default
(``cost_warp: none``), as a measured cost is a sum of the work executed. Whether a metric is a cost
is what its evaluator declares (:meth:`~hwnas.evaluators.base.Evaluator.metric_kinds`). Each
metric's encoding is chosen by cross-validation among the space's views
(:class:`~hwnas.strategies.cost_views.CostViews`): costs among executed-work views, qualities
between the generic features and generic + interactions.

Every metric starts with a bootstrap ridge; from ``quality_surrogate_after`` usable evaluations on,
quality metrics get ``quality_surrogate`` (a Gaussian process by default), and from
``cost_surrogate_after`` on, costs get ``cost_surrogate`` (the ridge plus a Gaussian process on its
residuals by default). In a product space a surrogate that takes ``groups`` is given each block's
columns of its encoding (:func:`~hwnas.spaces.product.feature_groups`). A model of the same kind
as the last fit is updated through :meth:`~hwnas.learn.surrogate.Surrogate.extend` (same encoding,
more rows) or :meth:`~hwnas.learn.surrogate.Surrogate.refit` (new encoding); a new kind is fitted afresh.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hwnas.core.registry import accepted_options
from hwnas.learn.surrogate import SURROGATES, Pool, Surrogate, make_surrogate
from hwnas.learn.warp import RankWarp
from hwnas.spaces.product import feature_groups, one_block_space
from hwnas.strategies.cost_views import GENERIC, CostViews

WARPS = ("rank", "log", "none")  # target transforms of a surrogate (``warp``, ``cost_warp``)
#: the surrogate every metric starts with
BASE_SURROGATE = "ridge"
#: shared weights a Gaussian process chooses among when a product space's blocks are one space
#: (:class:`~hwnas.learn.gp.GaussianProcess`: 0 a function per position, 1 one function of a block)
SHARED_WEIGHTS = (0.0, 0.5, 1.0)


class Encoded:
    """Gene rows and their generic features, each other view's matrix computed once when first asked
    (every metric model reading that view shares it). A fixed set (``fixed=True``) keeps each view's
    matrix as a :class:`~hwnas.learn.surrogate.Pool`, so surrogates may cache their cross-terms with it."""

    def __init__(self, genes: np.ndarray, X: np.ndarray, fixed: bool = False):
        self.genes, self.X = genes, X
        self._pools: dict[str, Pool] | None = {} if fixed else None
        self._matrices: dict[str, np.ndarray] = {}

    @property
    def fixed(self) -> bool:
        return self._pools is not None

    def matrix(self, view: str, views: CostViews | None) -> np.ndarray:
        if view == GENERIC:
            return self.X
        if self._pools is not None:
            return self.pool(view, views).X
        if view not in self._matrices:
            self._matrices[view] = views.matrix(view, self.genes)
        return self._matrices[view]

    def pool(self, view: str, views: CostViews | None) -> Pool:
        if view not in self._pools:
            self._pools[view] = Pool(self.X if view == GENERIC else views.matrix(view, self.genes))
        return self._pools[view]


@dataclass
class Candidates:
    """Rows ``rows`` of an encoded set (all when None): the architectures a batch is picked from."""

    source: Encoded
    rows: np.ndarray | None = None
    genes: np.ndarray = field(init=False)

    def __post_init__(self):
        self.genes = self.source.genes if self.rows is None else self.source.genes[self.rows]

    def __len__(self) -> int:
        return len(self.genes)


class Predictions:
    """Member predictions (K, n) of every modelled metric for one candidate set, in the surrogates' target
    space (``latent``), with the monotone maps back to each metric's units."""

    def __init__(self, latent: dict[str, np.ndarray], models: MetricModels):
        self.latent = latent
        self._models = models

    def members(self, metric: str, columns: np.ndarray | None = None) -> np.ndarray:
        Z = self.latent[metric]
        return self._models.units(metric, Z if columns is None else Z[:, columns])

    def mean(self, metric: str) -> np.ndarray:
        """The members' mean in the metric's units, shape (1, n)."""
        return self._models.units(metric, self.latent[metric].mean(axis=0, keepdims=True))

    @staticmethod
    def join(parts: list[Predictions]) -> Predictions:
        """One set of predictions from several of the same models: the candidate sets one after the other."""
        latent = {m: np.concatenate([p.latent[m] for p in parts], axis=1) for m in parts[0].latent}
        return Predictions(latent, parts[0]._models)

    def best(self, metric: str, larger: bool) -> np.ndarray:
        """The most optimistic member per candidate (largest when ``larger``), in the metric's units."""
        Z = self.latent[metric]
        return self._models.units(metric, Z.max(axis=0) if larger else Z.min(axis=0))


class MetricModels:
    """The surrogates of a search's modelled metrics, refitted on every completed trial before each ask."""

    def __init__(self, space, metrics: list[str], costs: set[str], qualities: set[str], maximised: set[str],
                 warp: str, cost_warp: str | None, quality_surrogate: str | None, quality_surrogate_after: int,
                 n_members: int, seed: int, views: CostViews | None, cost_surrogate: str | None = None,
                 cost_surrogate_after: int = 0):
        self.space, self.metrics = space, metrics
        self.costs, self.qualities, self.maximised = costs, qualities, maximised
        self.warp, self.cost_warp = warp, cost_warp
        self.quality_surrogate, self.quality_surrogate_after = quality_surrogate, quality_surrogate_after
        self.cost_surrogate, self.cost_surrogate_after = cost_surrogate, cost_surrogate_after
        self.n_members, self.seed = n_members, seed
        self.views = views
        self.view: dict[str, str] = {}  # metric -> chosen encoding
        self._view_n: dict[str, int] = {}  # metric -> rows at that choice
        self.models: dict[str, Surrogate] = {}
        self.warps: dict[str, object] = {}  # metric -> RankWarp, "log" or None
        self._kind: dict[str, str] = {}
        self._fitted_view: dict[str, str] = {}
        self._train: dict[str, np.ndarray] = {}  # metric -> the rows of its last fit, encoded
        self.fit_genes: np.ndarray | None = None  # the gene rows of the last fit

    # ------------------------------------------------------------------ fitting
    def _warp(self, metric: str, y: np.ndarray):
        """The target transform of one metric: a fitted RankWarp, "log" for positive costs, or None."""
        warp = self.cost_warp if self.cost_warp is not None and metric in self.costs else self.warp
        if warp == "rank":
            return RankWarp().fit(y)
        if warp == "log" and (y > 0).all() and metric not in self.maximised:
            return "log"  # costs (minimised, or only constrained) are multiplicative
        return None

    def kind(self, metric: str, n: int) -> str:
        if self.quality_surrogate is not None and metric in self.qualities and n >= self.quality_surrogate_after:
            return self.quality_surrogate
        if self.cost_surrogate is not None and metric in self.costs and n >= self.cost_surrogate_after:
            return self.cost_surrogate
        return BASE_SURROGATE

    def fit(self, genes: np.ndarray, values: dict[str, np.ndarray]) -> None:
        """Fit every metric's surrogate on the gene rows and their values (same order as last time, grown)."""
        X = self.space.features(genes)
        self.fit_genes = genes
        for j, m in enumerate(self.metrics):
            y = values[m]
            warp = self._warp(m, y)
            target = np.log(y) if warp == "log" else (warp.transform(y) if warp is not None else y)
            view = self._choose_view(m, genes, target)
            kind = self.kind(m, len(y))
            Xv = X if view == GENERIC else self.views.matrix(view, genes)
            prev = self.models.get(m)
            same_kind = prev is not None and self._kind[m] == kind
            if same_kind and self._fitted_view[m] == view:
                model = prev.extend(Xv, target)
            else:
                options = self._group_option(kind, view, Xv.shape[1])
                if same_kind and not options and getattr(prev, "groups", None) is None:
                    model = prev.refit(Xv, target)  # a new encoding, the same settings
                else:  # a new kind, or column groups that belong to another encoding
                    model = make_surrogate(kind, self.n_members, seed=self.seed * 1009 + j, **options).fit(Xv, target)
            self.models[m], self.warps[m], self._kind[m], self._fitted_view[m] = model, warp, kind, view
            self._train[m] = Xv

    def _group_option(self, kind: str, view: str, width: int) -> dict:
        """``groups``, the feature columns of each block of a product space under ``view``, for a surrogate
        that takes them (a Gaussian process then adds a kernel per block to its joint one), and
        ``shared_weights`` when the blocks are one space and the surrogate takes them; else nothing."""
        if "groups" not in accepted_options(SURROGATES.get(kind)):
            return {}
        groups = feature_groups(self.space, view)
        if groups is None or sum(len(g) for g in groups) != width:
            return {}
        options = {"groups": groups}
        if "shared_weights" in accepted_options(SURROGATES.get(kind)) and one_block_space(self.space):
            options["shared_weights"] = SHARED_WEIGHTS
        return options

    def _choose_view(self, metric: str, genes: np.ndarray, target: np.ndarray) -> str:
        """The encoding of a metric's surrogate, re-chosen whenever the data has grown by half since the last choice."""
        if self.views is None:
            return GENERIC
        names = self.views.names if metric in self.costs else self.views.quality_names
        if len(names) == 1:
            return GENERIC
        n = len(target)
        if metric not in self.view or n >= 1.5 * self._view_n[metric]:
            self.view[metric], _ = self.views.choose(genes, target, seed=self.seed, names=names)
            self._view_n[metric] = n
        return self.view[metric]

    # ------------------------------------------------------------------ prediction
    def current_view(self, metric: str) -> str:
        return self.view.get(metric, GENERIC)

    def units(self, metric: str, Z: np.ndarray) -> np.ndarray:
        """Warped predictions back in the metric's own units (a monotone increasing map)."""
        warp = self.warps[metric]
        return np.exp(Z) if warp == "log" else (warp.inverse(Z) if warp is not None else Z)

    def predict(self, cand: Candidates) -> Predictions:
        """Member predictions of every metric for the candidates, each in one vectorised call."""
        latent = {}
        for m, model in self.models.items():
            view = self.current_view(m)
            if cand.source.fixed:
                latent[m] = model.predict_members_on(cand.source.pool(view, self.views), cand.rows)
            else:
                latent[m] = model.predict_members(cand.source.matrix(view, self.views))
        return Predictions(latent, self)

    def predict_mean_train(self, metric: str) -> np.ndarray:
        """The members' mean of one metric (target space) for the rows of the last fit, in order."""
        return self.models[metric].predict_mean_train(self._train[metric])

    def predict_mean(self, metric: str, encoded: Encoded) -> np.ndarray:
        """The members' mean of one metric (target space) for every row of an encoded set."""
        model, view = self.models[metric], self.current_view(metric)
        if encoded.fixed:
            return model.predict_mean_on(encoded.pool(view, self.views))
        return model.predict_mean(encoded.matrix(view, self.views))
