"""A bootstrap ridge with a Gaussian process on what it leaves (``ridge_gp``): a cost surrogate.

A measured cost is mostly a sum of the work executed, which a ridge on executed-work features reads
globally and extrapolates. What it leaves is each architecture's own deviation: on a measurement
table, each measured architecture (or cell) runs a little faster or slower than its work predicts,
and those deviations are what the cheapest members of a front are made of. A Gaussian process on the
ridge's residuals follows them near evaluated architectures and returns to the ridge away from them;
in a product space (``groups``) its kernel has a term per block, so a cell's deviation carries over to
every network that holds it (:class:`~hwnas.learn.gp.GaussianProcess`).

Members are the ridge's bootstrap members plus the GP's posterior draws, member by member.

A ridge refit costs ``n x d^2`` per member. Up to ``ridge_every_until`` rows (a few milliseconds a
refit) the ridge is refitted on every extend; beyond, only once the rows have grown by ``ridge_regrow``
since its last fit, and in between the GP is extended on the kept ridge's residuals: a few new rows
move a ridge fitted on hundreds little, and the GP absorbs what they move.
"""

from __future__ import annotations

import numpy as np

from hwnas.learn.gp import GaussianProcess
from hwnas.learn.ridge import BootstrapRidge
from hwnas.learn.surrogate import BOUNDED_ROWS, Pool, Surrogate, check_members, check_xy


class RidgeResidualGP(Surrogate):
    """:class:`~hwnas.learn.ridge.BootstrapRidge` plus a :class:`~hwnas.learn.gp.GaussianProcess` on its residuals."""

    def __init__(self, n_members: int = 16, seed: int = 0, groups=None, ridge_every_until: int = BOUNDED_ROWS,
                 ridge_regrow: float = 1.1):
        self.n_members = check_members(n_members)
        self.seed = seed
        self.groups = groups
        if ridge_regrow < 1.0:
            raise ValueError(f"ridge_regrow must be >= 1, got {ridge_regrow}")
        self.ridge_every_until, self.ridge_regrow = int(ridge_every_until), float(ridge_regrow)

    def _with(self, ridge: BootstrapRidge, gp: GaussianProcess) -> RidgeResidualGP:
        new = RidgeResidualGP(self.n_members, self.seed, self.groups, self.ridge_every_until, self.ridge_regrow)
        new.ridge_, new.gp_ = ridge, gp
        return new

    def _ridge(self, X: np.ndarray, y: np.ndarray) -> tuple[BootstrapRidge, np.ndarray]:
        ridge = BootstrapRidge(self.n_members, seed=self.seed).fit(X, y)
        ridge.rows_ = len(y)
        return ridge, y - ridge.predict_mean(X)

    def _kept_ridge(self, X: np.ndarray, y: np.ndarray) -> tuple[BootstrapRidge, np.ndarray]:
        """The ridge for grown data: refitted (see the module), or this model's with its residuals on ``X, y``."""
        n = len(y)
        if n <= self.ridge_every_until or n >= self.ridge_regrow * self.ridge_.rows_:
            return self._ridge(X, y)
        return self.ridge_, y - self.ridge_.predict_mean(X)

    def fit(self, X, y):
        X, y = check_xy(X, y)
        self.ridge_, residual = self._ridge(X, y)
        self.gp_ = GaussianProcess(self.n_members, seed=self.seed + 1, groups=self.groups).fit(X, residual)
        return self

    def extend(self, X, y) -> RidgeResidualGP:
        """The ridge refitted on all rows (a closed form; beyond ``ridge_every_until`` rows only on growth
        by ``ridge_regrow``), the GP extended by the new rows with every row's residual
        (:meth:`~hwnas.learn.gp.GaussianProcess.extend` takes changed targets of old rows)."""
        X, y = check_xy(X, y)
        ridge, residual = self._kept_ridge(X, y)
        return self._with(ridge, self.gp_.extend(X, residual))

    def refit(self, X, y) -> RidgeResidualGP:
        X, y = check_xy(X, y)
        ridge, residual = self._ridge(X, y)
        return self._with(ridge, self.gp_.refit(X, residual))

    def predict_members(self, X):
        return self.ridge_.predict_members(X) + self.gp_.predict_members(X)

    def predict_mean(self, X):
        return self.ridge_.predict_mean(X) + self.gp_.predict_mean(X)

    def predict_mean_train(self, X):
        return self.ridge_.predict_mean(X) + self.gp_.predict_mean_train(X)

    def predict_members_on(self, pool: Pool, rows: np.ndarray | None = None) -> np.ndarray:
        return self.ridge_.predict_members(pool.rows(rows)) + self.gp_.predict_members_on(pool, rows)

    def predict_mean_on(self, pool: Pool, rows: np.ndarray | None = None) -> np.ndarray:
        return self.ridge_.predict_mean(pool.rows(rows)) + self.gp_.predict_mean_on(pool, rows)
