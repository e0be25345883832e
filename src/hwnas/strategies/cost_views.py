"""Which encoding of an architecture predicts a measured cost best: chosen from the data.

A search strategy's surrogate reads architectures through ``space.features``:
a generic encoding, good for accuracy. A measured cost (latency, energy) is
better read as *what the runtime executes*, and a measurement table may copy
one measurement to every member of a measurement class (NAS-Bench-201 tables
time each isomorphism class once, on its first-listed member). A space that
knows this declares it (:mod:`hwnas.spaces.protocols`); this module offers its
views to the search as alternative inputs of a surrogate:

- ``generic``: ``space.features`` (always a candidate);
- for quality metrics, the space's extra quality views (NB201: ``generic+pairs``,
  the joint operation of pairs of fully live edges);
- for costs, every executed-work view of the space, each with the architecture's
  own graph (``own``) and, when the evaluator exposes its table's row order
  (a *catalog*) and the space has measurement classes, with the first-listed
  member of its class (``first``).

:meth:`CostViews.choose` picks one by grouped K-fold cross-validation of a ridge
fit on the evaluated rows (Kendall tau of the out-of-fold predictions; folds
never split a measurement class), so a table or device that does not follow a
protocol simply keeps the view that predicts it. Everything is closed-form
ridge on small matrices: a choice among nine views costs a few milliseconds.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.stats import kendalltau

from hwnas.learn.cv import grouped_folds, out_of_fold
from hwnas.spaces import views
from hwnas.spaces.views import GENERIC

__all__ = ["GENERIC", "CostViews"]


def _ridge_fit(X: np.ndarray, y: np.ndarray, alpha: float) -> tuple[np.ndarray, float]:
    """Ridge coefficients and intercept; with more columns than rows, from the n x n system (the same
    solution by the push-through identity, at n^2 d instead of n d^2 + d^3)."""
    xm, ym = X.mean(axis=0), y.mean()
    Xc = X - xm
    n, d = Xc.shape
    if d > n:
        coef = Xc.T @ np.linalg.solve(Xc @ Xc.T + alpha * np.eye(n), y - ym)
    else:
        coef = np.linalg.solve(Xc.T @ Xc + alpha * np.eye(d), Xc.T @ (y - ym))
    return coef, float(ym - xm @ coef)


class CostViews:
    """Candidate encodings of one space's architectures for a cost surrogate, and the choice among them."""

    def __init__(self, space, catalog: np.ndarray | None = None, folds: int = 5, alpha: float = 1.0):
        self.space = space
        self.folds = int(folds)
        self.alpha = float(alpha)
        self.reps: dict[int, int] = {}
        self.names: list[str] = [GENERIC]
        self.quality_names: list[str] = views.quality_view_names(space)
        if views.has_executed_views(space):
            if catalog is not None and len(catalog):
                self.reps = views.listed_representatives(space, np.asarray(catalog, dtype=np.int64))
            rep_options = ("own", "first") if self.reps else ("own",)
            self.names += [f"{v}/{r}" for v in views.executed_views(space) for r in rep_options]

    def matrix(self, name: str, genes: np.ndarray) -> np.ndarray:
        """Feature matrix of gene rows under view ``name``."""
        genes = np.atleast_2d(np.asarray(genes, dtype=np.int64))
        if name == GENERIC or name in self.quality_names:
            return views.quality_matrix(self.space, name, genes)
        if name not in self.names:
            raise ValueError(f"view {name!r} unknown; allowed {self.names + self.quality_names[1:]}")
        view, rep = name.split("/")
        measured = views.apply_representatives(self.space, genes, self.reps) if rep == "first" else genes
        return views.executed_work(self.space, measured, view).matrix

    def groups(self, genes: np.ndarray) -> np.ndarray:
        """Rows that share a measurement (kept in one fold): the space's measurement classes, else canonical cells."""
        return views.measurement_groups(self.space, genes)

    def choose(self, genes: np.ndarray, y: np.ndarray, seed: int = 0,
               names: Sequence[str] | None = None) -> tuple[str, dict[str, float]]:
        """The view whose ridge fit ranks held-out rows best, and every view's score.

        ``y``: the surrogate's (warped) targets. With fewer than 8 rows or fewer
        than 2 measurement classes the generic view is kept.
        """
        names = list(names or self.names)
        genes = np.atleast_2d(np.asarray(genes, dtype=np.int64))
        y = np.asarray(y, dtype=np.float64)
        groups = self.groups(genes)
        k = min(self.folds, len(np.unique(groups)))
        if len(y) < 8 or k < 2 or len(names) == 1:
            return names[0], {}
        # small samples: average over a few fold splits (one split's tau on 20 rows is noisy)
        folds = grouped_folds(groups, k, np.random.default_rng(seed), repeats=3 if len(y) < 60 else 1)
        scores: dict[str, float] = {}
        for name in names:
            X = self.matrix(name, genes)
            X = X[:, X.std(axis=0) > 0] if X.shape[1] else X
            if X.shape[1] == 0:
                scores[name] = -1.0
                continue
            X = (X - X.mean(axis=0)) / X.std(axis=0)

            def fit_predict(train, held, X=X):
                coef, icpt = _ridge_fit(X[train], y[train], self.alpha)
                return X[held] @ coef + icpt

            taus = []
            for fold in folds:
                tau = kendalltau(out_of_fold(fold, fit_predict), y).statistic
                taus.append(float(tau) if np.isfinite(tau) else -1.0)
            scores[name] = float(np.mean(taus))
        best = max(names, key=lambda n: scores[n])  # first listed (generic) wins ties
        return best, scores
