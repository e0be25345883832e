"""Exact Gaussian-process regression (``gp``): a local surrogate, extended row by row as a search grows."""

from __future__ import annotations

import numpy as np
from scipy.linalg import solve_triangular

from hwnas.learn.surrogate import Pool, Surrogate, check_members, check_xy


class GaussianProcess(Surrogate):
    """Exact Gaussian-process regression; its members are draws from the posterior of the mean function.

    The kernel is a squared exponential on the features scaled to unit range
    (one-hot columns stay 0/1, counts become fractions), so on one-hot
    encodings it decays with the number of differing choices: two
    architectures are alike when they share most choices, and how fast
    likeness decays, the noise level and the signal variance are chosen by
    maximising the marginal likelihood over a small grid (closed-form signal
    variance). Unlike a linear model it extrapolates nothing far from the
    data: near an evaluated architecture it follows what was measured there,
    far away it returns to the mean with a wide spread.

    ``predict_members`` returns antithetic pairs ``mean +- sd * z`` (z drawn
    once per call from ``seed``; an odd count adds one member at the mean):
    the members' mean is the posterior mean exactly, their spread its
    standard deviation, each candidate's draws independent of the others'
    (a batch picked greedily scores each candidate on its own draws).

    Growing data: the kernel (length scale and noise ratio) is re-chosen over the grid only once the
    data has grown by half since the last choice (:attr:`regrow`); the marginal likelihood moves
    little when five rows join a hundred. In between, :meth:`extend` keeps the whole kernel (feature
    scaling too) and extends the Cholesky factor by the new rows' block, and :meth:`refit` (new
    inputs) keeps the chosen length scale and noise ratio. Predictions of a :class:`~hwnas.learn.surrogate.Pool`
    keep the cross-kernel and its triangular solve, and an extended model only adds the new rows'
    part: ``O(k n m)`` for ``k`` new rows, ``n`` evaluated rows and ``m`` candidates, instead of
    ``O(n^2 m)`` per prediction.
    """

    #: the kernel is re-chosen over the grid when the rows reach this multiple of the rows at the last choice
    regrow = 1.5

    def __init__(self, n_members: int = 16, lengthscales=(0.35, 0.5, 0.7, 1.0, 1.4, 2.0),
                 noise_ratios=(0.01, 0.03, 0.1, 0.3, 1.0), seed: int = 0):
        self.n_members = check_members(n_members)
        self.lengthscales = tuple(lengthscales)
        self.noise_ratios = tuple(noise_ratios)
        self.seed = seed

    # ------------------------------------------------------------------ fitting
    def fit(self, X, y):
        """Fit with the kernel chosen over the whole grid."""
        self._fit(X, y, self.lengthscales, self.noise_ratios)
        self.chosen_at_ = len(self._X)
        return self

    def refit(self, X, y) -> GaussianProcess:
        """A new model on ``X, y`` with this one's length scale and noise ratio (the grid again once the data
        has grown by :attr:`regrow` since the last choice); feature scaling from ``X``."""
        new = GaussianProcess(self.n_members, self.lengthscales, self.noise_ratios, self.seed)
        if len(y) >= self.regrow * self.chosen_at_:
            return new.fit(X, y)
        new._fit(X, y, (self.lengthscale_rel_,), (self.noise_ratio_,))
        new.chosen_at_ = self.chosen_at_
        return new

    def extend(self, X, y) -> GaussianProcess:
        """A new model on ``X`` (its first rows this model's training rows) and ``y`` (all targets, old rows
        included: they may change) with this model's whole kernel: scaling, length scale, noise ratio.

        The Cholesky factor is extended by the new rows' block; the mean, signal variance and weights
        are refitted to ``y``. Cached pool predictions move to the new model, which adds the new rows'
        part on its next prediction. Once the data has grown by :attr:`regrow`, or when ``X`` does not
        start with the training rows, this is :meth:`refit`.
        """
        X, y = check_xy(X, y)
        if len(y) >= self.regrow * self.chosen_at_ or not self.can_extend(X):
            return self.refit(X, y)
        return self._extended(X, y)

    def _fit(self, X, y, lengthscales, noise_ratios) -> None:
        X, y = check_xy(X, y)
        self.lo_ = X.min(axis=0)
        span = X.max(axis=0) - self.lo_
        self.scale_ = np.where(span > 0, span, 1.0)
        Xs = self._scaled(X)
        D = self._sqdist(Xs, Xs)
        # length scales relative to the typical distance between evaluated architectures
        typical = float(np.sqrt(np.median(D[np.triu_indices(len(y), 1)]))) if len(y) > 2 else 1.0
        typical = typical if typical > 0 else 1.0
        n = len(y)
        best = None
        for rel in lengthscales:
            ell = rel * typical
            Kf = np.exp(-0.5 * D / ell**2)
            for g in noise_ratios:
                try:
                    L = np.linalg.cholesky(Kf + (g + 1e-8) * np.eye(n))
                except np.linalg.LinAlgError:
                    continue
                one = np.linalg.solve(L, np.ones(n))
                ty = np.linalg.solve(L, y)
                mu = float(one @ ty / (one @ one))  # generalised least-squares constant mean
                r = ty - mu * one
                s2 = max(float(r @ r) / n, 1e-12)  # closed-form signal variance
                nll = 0.5 * n * np.log(s2) + np.log(np.diag(L)).sum()
                if best is None or nll < best[0]:
                    best = (nll, rel, g, L, mu, s2)
        if best is None:
            raise ValueError("Gaussian process: no kernel setting gave a positive-definite matrix")
        _, self.lengthscale_rel_, self.noise_ratio_, L, self.mean_, self.s2_ = best
        self.ell_ = self.lengthscale_rel_ * typical
        self._lo32, self._scale32 = self.lo_.astype(np.float32), self.scale_.astype(np.float32)
        self._set_rows(X, Xs, L, y, {})

    def _set_rows(self, X: np.ndarray, Xs: np.ndarray, L: np.ndarray, y: np.ndarray, caches: dict) -> None:
        """The state a fit leaves (``mean_`` and ``s2_`` already set): weights, factor, rows, caches."""
        self._alpha = solve_triangular(L.T, solve_triangular(L, y - self.mean_, lower=True), lower=False)
        # L^-1 once per fit, when first needed: prediction is then one matrix product (faster than a
        # triangular solve per call)
        self._Linv32 = None
        self._X32 = Xs.astype(np.float32)
        self._X, self._L, self._on = X, L, caches

    def can_extend(self, X) -> bool:
        """Whether :meth:`extend` can grow this model: ``X``'s first rows are exactly its training rows."""
        n0 = len(self._X)
        X = np.asarray(X)
        return X.ndim == 2 and len(X) >= n0 and X.shape[1] == self._X.shape[1] and np.array_equal(X[:n0], self._X)

    def _extended(self, X: np.ndarray, y: np.ndarray) -> GaussianProcess:
        n0 = len(self._X)
        new = GaussianProcess.__new__(GaussianProcess)
        new.__dict__.update(self.__dict__)
        Xs = self._scaled(X)
        old, add = Xs[:n0], Xs[n0:]
        K12 = np.exp(-0.5 * self._sqdist(old, add) / self.ell_**2)
        K22 = np.exp(-0.5 * self._sqdist(add, add) / self.ell_**2) + (self.noise_ratio_ + 1e-8) * np.eye(len(add))
        L21 = solve_triangular(self._L, K12, lower=True).T  # (k, n0)
        L = np.zeros((len(X), len(X)))
        L[:n0, :n0], L[n0:, :n0] = self._L, L21
        L[n0:, n0:] = np.linalg.cholesky(K22 - L21 @ L21.T)
        n = len(y)
        one = solve_triangular(L, np.ones(n), lower=True)
        ty = solve_triangular(L, y, lower=True)
        new.mean_ = float(one @ ty / (one @ one))
        r = ty - new.mean_ * one
        new.s2_ = max(float(r @ r) / n, 1e-12)
        new._set_rows(X, Xs, L, y, self._on)
        if self._Linv32 is not None:  # L^-1 grown by its new rows' block: O(k n^2) instead of O(n^3)
            L22inv = solve_triangular(L[n0:, n0:], np.eye(n - n0), lower=True)
            Linv = np.zeros((n, n), np.float32)
            Linv[:n0, :n0] = self._Linv32
            Linv[n0:, :n0] = -(L22inv @ L21).astype(np.float32) @ self._Linv32
            Linv[n0:, n0:] = L22inv
            new._Linv32 = Linv
        self._on = {}  # the caches now describe the new model's rows
        return new

    # ------------------------------------------------------------------ prediction
    def _scaled(self, X: np.ndarray) -> np.ndarray:
        return (np.asarray(X, dtype=np.float64) - self.lo_) / self.scale_

    @staticmethod
    def _sqdist(A: np.ndarray, B: np.ndarray) -> np.ndarray:
        d = (A * A).sum(1)[:, None] + (B * B).sum(1)[None, :] - 2.0 * A @ B.T
        return np.maximum(d, 0.0)

    def _linv32(self) -> np.ndarray:
        if self._Linv32 is None:
            self._Linv32 = solve_triangular(self._L, np.eye(len(self._L)), lower=True).astype(np.float32)
        return self._Linv32

    def _cached(self, pool: Pool) -> dict:
        """Cross-kernel ``Ks`` (n, m) with the pool, its triangular solve ``V`` and ``V``'s squared column
        sums, kept under the pool's key and brought up to this model's rows."""
        n = len(self._L)
        c = self._on.get(pool.key)
        if c is None:
            Ms = self._scaled32(pool.X)
            Ks = self._kernel32(self._X32, Ms)
            V = self._linv32() @ Ks
            c = {"Ms": Ms, "n": 0, "vv": (V * V).sum(axis=0, dtype=np.float64),
                 "Ks": np.empty((n + n // 2 + 8, len(Ms))), "V": np.empty((n + n // 2 + 8, len(Ms)), np.float32)}
            c["Ks"][:n], c["V"][:n], c["n"] = Ks, V, n
            self._on[pool.key] = c
        n0 = c["n"]
        if n0 < n:
            if n > len(c["V"]):  # room for half as many rows again: rows are added a few at a time
                for key in ("Ks", "V"):
                    grown = np.empty((n + n // 2 + 8, c[key].shape[1]), c[key].dtype)
                    grown[:n0] = c[key][:n0]
                    c[key] = grown
            Ks_new = self._kernel32(self._X32[n0:], c["Ms"])  # (k, m)
            L21, L22 = self._L[n0:, :n0], self._L[n0:, n0:]
            rhs = Ks_new - L21.astype(np.float32) @ c["V"][:n0]
            V_new = solve_triangular(L22, rhs, lower=True).astype(np.float32)
            c["Ks"][n0:n], c["V"][n0:n], c["n"] = Ks_new, V_new, n
            c["vv"] = c["vv"] + (V_new * V_new).sum(axis=0, dtype=np.float64)
        return c

    def _kernel32(self, A32: np.ndarray, B32: np.ndarray) -> np.ndarray:
        d = self._sqdist(A32, B32)
        d *= np.float32(-0.5 / self.ell_**2)
        return np.exp(d, out=d)

    def predict_mean_on(self, pool: Pool, rows: np.ndarray | None = None) -> np.ndarray:
        c = self._cached(pool)
        mean = self.mean_ + self._alpha @ c["Ks"][: c["n"]]
        return mean if rows is None else mean[rows]

    def predict_members_on(self, pool: Pool, rows: np.ndarray | None = None) -> np.ndarray:
        mean = self.predict_mean_on(pool, rows)
        var = np.maximum(1.0 - self._cached(pool)["vv"], 0.0) * self.s2_
        return self._members(mean, np.sqrt(var if rows is None else var[rows]))

    def _cross(self, X) -> np.ndarray:
        """Kernel between the training rows and ``X``, (n, m), in float32: candidate sets are large and
        one-hot, and the float32 rounding (~1e-7) is far below any difference the search acts on."""
        return self._kernel32(self._X32, self._scaled32(X))

    def _scaled32(self, X) -> np.ndarray:
        """:meth:`_scaled` in float32 (one-hot columns, lo 0 and span 1, come out exactly as in float64)."""
        return (np.asarray(X, dtype=np.float32) - self._lo32) / self._scale32

    def _mean(self, Ks: np.ndarray) -> np.ndarray:
        return self.mean_ + Ks.T.astype(np.float64) @ self._alpha

    def predict_mean(self, X) -> np.ndarray:
        """The posterior mean alone (no variance: a fraction of the cost)."""
        return self._mean(self._cross(X))

    def predict(self, X):
        Ks = self._cross(X)
        mean = self._mean(Ks)
        V = self._linv32() @ Ks
        var = np.maximum(1.0 - (V * V).sum(axis=0, dtype=np.float64), 0.0) * self.s2_
        return mean, np.sqrt(var)

    def predict_members(self, X):
        return self._members(*self.predict(X))

    def _members(self, mean: np.ndarray, sd: np.ndarray) -> np.ndarray:
        half = self.n_members // 2
        z = np.random.default_rng(self.seed).standard_normal((half, len(mean)))
        z = np.vstack([z, -z] + ([np.zeros((1, len(mean)))] if self.n_members % 2 else []))  # odd: one at the mean
        return mean[None, :] + sd[None, :] * z
