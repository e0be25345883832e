"""Which encoding of an architecture predicts a measured cost best: chosen from the data.

A search strategy's surrogate reads architectures through ``space.features``:
a generic encoding, good for accuracy. A measured cost (latency, energy) is
better read as *what the runtime executes*, and a measurement table may copy
one measurement to every isomorphic cell (NAS-Bench-201 tables time each
isomorphism class once, on its first-listed member). The latency predictor
(:mod:`hwnas.costs.latency.predictor`) already knows these views; this
module offers them to the search as alternative inputs of a cost surrogate:

- ``generic``: ``space.features`` (always a candidate);
- for NB201 quality metrics, ``generic+pairs``: the generic features plus the joint operation of
  pairs of fully live edges (accuracy near the top of NB201 is not additive in the edges);
- for NB201 costs, every executed-work view of :data:`~hwnas.costs.latency.features.VIEWS`,
  each with the cell's own graph (``own``) and, when the evaluator exposes its
  table's row order (a *catalog*), with the first-listed member of its class (``first``).

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

GENERIC = "generic"
PAIRS = "generic+pairs"
#: NB201 edge pairs whose joint operation enters the interaction view: consecutive edges of an
#: input->output path, the direct edge with each, and the three edges into the output node
_NB201_PAIRS = ((0, 4), (1, 5), (0, 2), (2, 5), (0, 3), (3, 4), (3, 5), (4, 5))


def _ridge_fit(X: np.ndarray, y: np.ndarray, alpha: float) -> tuple[np.ndarray, float]:
    xm, ym = X.mean(axis=0), y.mean()
    Xc = X - xm
    coef = np.linalg.solve(Xc.T @ Xc + alpha * np.eye(X.shape[1]), Xc.T @ (y - ym))
    return coef, float(ym - xm @ coef)


class CostViews:
    """Candidate encodings of one space's architectures for a cost surrogate, and the choice among them."""

    def __init__(self, space, catalog: np.ndarray | None = None, folds: int = 5, alpha: float = 1.0):
        self.space = space
        self.folds = int(folds)
        self.alpha = float(alpha)
        self.reps: dict[int, int] = {}
        self.names: list[str] = [GENERIC]
        self.quality_names: list[str] = [GENERIC]
        self._nb201 = getattr(space, "name", None) == "nb201"
        if self._nb201:
            self.quality_names.append(PAIRS)
            from hwnas.costs.latency.features import VIEWS, first_listed_representatives

            if catalog is not None and len(catalog):
                self.reps = first_listed_representatives(np.asarray(catalog, dtype=np.int64))
            rep_options = ("own", "first") if self.reps else ("own",)
            self.names += [f"{v}/{r}" for v in VIEWS for r in rep_options]

    def matrix(self, name: str, genes: np.ndarray) -> np.ndarray:
        """Feature matrix of gene rows under view ``name``."""
        genes = np.atleast_2d(np.asarray(genes, dtype=np.int64))
        if name == GENERIC:
            return np.asarray(self.space.features(genes), dtype=np.float64)
        if name == PAIRS and self._nb201:
            live = self.space.live_genes(genes)
            n_ops = int(self.space.cardinalities[0])
            eye = np.eye(n_ops * n_ops)
            joint = [eye[live[:, i] * n_ops + live[:, j]] for i, j in _NB201_PAIRS]
            return np.hstack([np.asarray(self.space.features(genes), dtype=np.float64), *joint])
        if name not in self.names:
            raise ValueError(f"view {name!r} unknown; allowed {self.names + self.quality_names[1:]}")
        from hwnas.costs.latency.features import apply_representatives, nb201_cost_features

        view, rep = name.split("/")
        measured = apply_representatives(genes, self.reps) if rep == "first" else genes
        return nb201_cost_features(self.space, measured, view).matrix

    def groups(self, genes: np.ndarray) -> np.ndarray:
        """Rows that share a measurement (kept in one fold): isomorphism classes for NB201, else canonical cells."""
        genes = np.atleast_2d(np.asarray(genes, dtype=np.int64))
        if self._nb201:
            from hwnas.costs.latency.features import nb201_measure_keys

            return nb201_measure_keys(genes)
        canon = self.space.canonical_genes(genes)
        return np.unique(canon, axis=0, return_inverse=True)[1].reshape(-1)

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
        uniq = np.unique(groups)
        k = min(self.folds, len(uniq))
        if len(y) < 8 or k < 2 or len(names) == 1:
            return names[0], {}
        rng = np.random.default_rng(seed)
        # small samples: average over a few fold splits (one split's tau on 20 rows is noisy)
        folds = []
        for _ in range(3 if len(y) < 60 else 1):
            fold_of = dict(zip(rng.permutation(uniq).tolist(), (np.arange(len(uniq)) % k).tolist()))
            folds.append(np.array([fold_of[g] for g in groups.tolist()]))
        scores: dict[str, float] = {}
        for name in names:
            X = self.matrix(name, genes)
            X = X[:, X.std(axis=0) > 0] if X.shape[1] else X
            if X.shape[1] == 0:
                scores[name] = -1.0
                continue
            X = (X - X.mean(axis=0)) / X.std(axis=0)
            taus = []
            for fold in folds:
                oof = np.empty(len(y))
                for f in range(k):
                    held = fold == f
                    coef, icpt = _ridge_fit(X[~held], y[~held], self.alpha)
                    oof[held] = X[held] @ coef + icpt
                tau = kendalltau(oof, y).statistic
                taus.append(float(tau) if np.isfinite(tau) else -1.0)
            scores[name] = float(np.mean(taus))
        best = max(names, key=lambda n: scores[n])  # first listed (generic) wins ties
        return best, scores
