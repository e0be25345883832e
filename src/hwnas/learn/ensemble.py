"""Surrogate ensembles: several light regressors whose spread is the surrogate's uncertainty.

A search strategy needs, for thousands of candidates at once, a predicted
value *and* how sure the prediction is. Every model here is an ensemble of
``K`` members; :meth:`Surrogate.predict_members` returns a ``(K, n)`` matrix
(one row per member, all candidates predicted in one vectorised call), and
:meth:`Surrogate.predict` its mean and standard deviation. Members differ by
bootstrap resampling (ridge) or by tree randomisation (extra trees), so their
disagreement grows away from the data, which is what expected-improvement
selection needs.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
from scipy.linalg import solve_triangular
from sklearn.ensemble import ExtraTreesRegressor

from hwnas.core.errors import ConfigError


class Surrogate(ABC):
    """An ensemble regressor: fit on rows of features, predict every member at once."""

    @abstractmethod
    def fit(self, X: np.ndarray, y: np.ndarray) -> Surrogate:
        """Fit on features ``X`` (n, d) and finite targets ``y`` (n,)."""

    @abstractmethod
    def predict_members(self, X: np.ndarray) -> np.ndarray:
        """Predictions of every member, shape (K, n)."""

    #: standard deviation of out-of-bag residuals: the noise no member can explain (set by ``fit``)
    residual_std_: float = 0.0

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation over members, each shape (n,)."""
        P = self.predict_members(X)
        return P.mean(axis=0), P.std(axis=0)

    def predict_mean(self, X: np.ndarray) -> np.ndarray:
        """Mean over members, shape (n,) (a model that has it cheaper overrides this)."""
        return self.predict_members(X).mean(axis=0)

    def _set_residual(self, X: np.ndarray, y: np.ndarray, in_bag: np.ndarray) -> None:
        """Residual spread from out-of-bag predictions (``in_bag``: (K, n) counts of each row in each member)."""
        P = self.predict_members(X)
        oob = in_bag == 0
        counts = oob.sum(axis=0)
        have = counts > 0
        if have.sum() < 2:
            self.residual_std_ = float(np.std(y - P.mean(axis=0)))
            return
        pred = (P * oob).sum(axis=0)[have] / counts[have]
        self.residual_std_ = float(np.sqrt(np.mean((y[have] - pred) ** 2)))


def _check_xy(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if X.ndim != 2 or y.ndim != 1 or len(X) != len(y):
        raise ValueError(f"expected X (n, d) and y (n,), got {X.shape} and {y.shape}")
    if len(y) < 2:
        raise ValueError(f"a surrogate needs at least 2 rows to fit, got {len(y)}")
    if not np.isfinite(y).all() or not np.isfinite(X).all():
        raise ValueError("surrogate training data holds non-finite values")
    return X, y


class BootstrapRidge(Surrogate):
    """Ridge regressions on bootstrap resamples, the penalty picked once by generalised cross-validation.

    Closed-form fits (one batched set of d x d solves for all members), so a
    16-member ensemble refits in about a millisecond; prediction is one matrix
    product for all members.
    """

    def __init__(self, n_members: int = 16, alphas=(1e-2, 3e-2, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0), seed: int = 0):
        if n_members < 1:
            raise ConfigError(f"n_members must be >= 1, got {n_members}")
        self.n_members = n_members
        self.alphas = tuple(alphas)
        self.seed = seed

    def fit(self, X, y):
        X, y = _check_xy(X, y)
        rng = np.random.default_rng(self.seed)
        self.alpha_ = self._gcv_alpha(X, y)
        n, d = X.shape
        W = rng.multinomial(n, np.full(n, 1.0 / n), size=self.n_members).astype(np.float64)  # (K, n)
        sw = W.sum(axis=1)
        xm = (W @ X) / sw[:, None]  # (K, d) weighted means
        ym = (W @ y) / sw  # (K,)
        # all members' weighted, centred normal equations at once
        A = np.matmul((W[:, :, None] * X[None]).transpose(0, 2, 1), X) - sw[:, None, None] * xm[:, :, None] * xm[:, None, :]
        A += self.alpha_ * np.eye(d)[None]
        b = (W * y) @ X - sw[:, None] * xm * ym[:, None]
        self.coef_ = np.linalg.solve(A, b[:, :, None])[:, :, 0]  # (K, d)
        self.intercept_ = ym - np.einsum("kd,kd->k", xm, self.coef_)  # (K,)
        self._set_residual(X, y, W)
        return self

    def _gcv_alpha(self, X: np.ndarray, y: np.ndarray) -> float:
        """The penalty minimising generalised cross-validation error, from one SVD."""
        Xc, yc = X - X.mean(axis=0), y - y.mean()
        U, s, _ = np.linalg.svd(Xc, full_matrices=False)
        uy = U.T @ yc
        rest = float(yc @ yc - uy @ uy)  # part of y outside the column space
        n = len(y)
        best, best_alpha = np.inf, self.alphas[0]
        for a in self.alphas:
            shrink = a / (s**2 + a)
            rss = float(((shrink * uy) ** 2).sum()) + rest
            dof = float((s**2 / (s**2 + a)).sum())
            gcv = n * rss / max(n - dof - 1, 1e-9) ** 2
            if gcv < best:
                best, best_alpha = gcv, a
        return float(best_alpha)

    def predict_members(self, X):
        X = np.asarray(X, dtype=np.float64)
        return self.coef_ @ X.T + self.intercept_[:, None]


class ExtraTreesEnsemble(Surrogate):
    """Extremely randomised trees; each tree is one member (scikit-learn does the work)."""

    def __init__(self, n_members: int = 32, min_samples_leaf: int = 1, max_features: float = 0.5, seed: int = 0):
        if n_members < 1:
            raise ConfigError(f"n_members must be >= 1, got {n_members}")
        self.n_members = n_members
        self.min_samples_leaf = min_samples_leaf
        self.max_features = max_features
        self.seed = seed

    def fit(self, X, y):
        X, y = _check_xy(X, y)
        self.model_ = ExtraTreesRegressor(
            n_estimators=self.n_members,
            min_samples_leaf=self.min_samples_leaf,
            max_features=self.max_features,
            bootstrap=True,
            random_state=self.seed,
        ).fit(X, y)
        in_bag = np.zeros((self.n_members, len(y)))
        for k, rows in enumerate(self.model_.estimators_samples_):
            np.add.at(in_bag[k], rows, 1)
        self._set_residual(X, y, in_bag)
        return self

    def predict_members(self, X):
        X = np.asarray(X, dtype=np.float32)
        return np.stack([t.predict(X) for t in self.model_.estimators_])


class MixedEnsemble(Surrogate):
    """Members of several ensembles side by side (e.g. linear and tree members), equally weighted per model."""

    def __init__(self, parts: list[Surrogate]):
        if not parts:
            raise ConfigError("a mixed ensemble needs at least one part")
        self.parts = parts

    def fit(self, X, y):
        for p in self.parts:
            p.fit(X, y)
        self.residual_std_ = float(min(p.residual_std_ for p in self.parts))
        return self

    def predict_members(self, X):
        return np.concatenate([p.predict_members(X) for p in self.parts], axis=0)


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
    the members' mean is the posterior mean
    exactly, their spread its standard deviation, each candidate's draws
    independent of the others' (a batch picked greedily scores each
    candidate on its own draws).

    A search refits its surrogate after every few evaluations; :meth:`extend`
    refits on the same rows plus new ones with the kernel unchanged (feature
    scaling, length scale, noise ratio), extending the Cholesky factor instead
    of recomputing it. Predictions for a fixed candidate matrix through
    :meth:`predict_members_on` / :meth:`predict_mean_on` keep the cross-kernel
    and its triangular solve, and an extended model only adds the new rows'
    part: ``O(k n m)`` for ``k`` new rows, ``n`` evaluated rows and ``m``
    candidates, instead of ``O(n^2 m)`` per prediction.
    """

    def __init__(self, n_members: int = 16, lengthscales=(0.35, 0.5, 0.7, 1.0, 1.4, 2.0),
                 noise_ratios=(0.01, 0.03, 0.1, 0.3, 1.0), seed: int = 0):
        if n_members < 1:
            raise ConfigError(f"n_members must be >= 1, got {n_members}")
        self.n_members = int(n_members)
        self.lengthscales = tuple(lengthscales)
        self.noise_ratios = tuple(noise_ratios)
        self.seed = seed

    def _scaled(self, X: np.ndarray) -> np.ndarray:
        return (np.asarray(X, dtype=np.float64) - self.lo_) / self.scale_

    @staticmethod
    def _sqdist(A: np.ndarray, B: np.ndarray) -> np.ndarray:
        d = (A * A).sum(1)[:, None] + (B * B).sum(1)[None, :] - 2.0 * A @ B.T
        return np.maximum(d, 0.0)

    def fit(self, X, y):
        X, y = _check_xy(X, y)
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
        for rel in self.lengthscales:
            ell = rel * typical
            Kf = np.exp(-0.5 * D / ell**2)
            for g in self.noise_ratios:
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
        return self

    def _set_rows(self, X: np.ndarray, Xs: np.ndarray, L: np.ndarray, y: np.ndarray, caches: dict) -> None:
        """The state a fit leaves (``mean_`` and ``s2_`` already set): weights, factor, rows, caches."""
        self._alpha = solve_triangular(L.T, solve_triangular(L, y - self.mean_, lower=True), lower=False)
        # L^-1 once per fit, when first needed: prediction is then one matrix product (faster than a
        # triangular solve per call)
        self._Linv32 = None
        self._X32 = Xs.astype(np.float32)
        self.residual_std_ = float(np.sqrt(self.noise_ratio_ * self.s2_))
        self._X, self._L, self._on = X, L, caches

    def can_extend(self, X) -> bool:
        """Whether :meth:`extend` takes ``X``: its first rows are exactly the rows this model was fitted on."""
        n0 = len(self._X)
        X = np.asarray(X)
        return X.ndim == 2 and len(X) >= n0 and X.shape[1] == self._X.shape[1] and np.array_equal(X[:n0], self._X)

    def extend(self, X, y) -> GaussianProcess:
        """A new model on ``X`` (its first rows exactly this model's training rows) and ``y`` (all targets,
        old rows included: they may change), with this model's kernel: scaling, length scale, noise ratio.

        The Cholesky factor is extended by the new rows' block; the mean, signal variance and weights
        are refitted to ``y``. Cached candidate predictions (:meth:`predict_members_on`) move to the new
        model, which adds the new rows' part on its next prediction.
        """
        X, y = _check_xy(X, y)
        if not self.can_extend(X):
            raise ValueError("GaussianProcess.extend: the first rows of X must be the rows the model was fitted on")
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
        self._on = {}  # the caches now describe the new model's rows
        return new

    def _linv32(self) -> np.ndarray:
        if self._Linv32 is None:
            self._Linv32 = solve_triangular(self._L, np.eye(len(self._L)), lower=True).astype(np.float32)
        return self._Linv32

    def _cached(self, M: np.ndarray) -> dict:
        """Cross-kernel ``Ks`` (n, m), its triangular solve ``V`` and ``V``'s squared column sums for the
        candidate matrix ``M`` (kept by identity: pass the same array object each time), brought up to
        this model's rows."""
        n = len(self._L)
        c = self._on.get(id(M))
        if c is None or c["M"] is not M:
            Ms = self._scaled32(M)
            Ks = self._kernel32(self._X32, Ms)
            V = self._linv32() @ Ks
            c = {"M": M, "Ms": Ms, "n": 0, "vv": (V * V).sum(axis=0, dtype=np.float64),
                 "Ks": np.empty((n + n // 2 + 8, len(Ms))), "V": np.empty((n + n // 2 + 8, len(Ms)), np.float32)}
            c["Ks"][:n], c["V"][:n], c["n"] = Ks, V, n
            self._on[id(M)] = c
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

    def predict_mean_on(self, M: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """:meth:`predict_mean` of the rows ``rows`` (all when None) of a candidate matrix kept across calls."""
        c = self._cached(M)
        mean = self.mean_ + self._alpha @ c["Ks"][: c["n"]]
        return mean if rows is None else mean[rows]

    def predict_members_on(self, M: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """:meth:`predict_members` of the rows ``rows`` (all when None) of a candidate matrix kept across calls."""
        mean = self.predict_mean_on(M, rows)
        var = np.maximum(1.0 - self._cached(M)["vv"], 0.0) * self.s2_
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


SURROGATES = ("ridge", "trees", "mixed", "gp", "ridge+gp")


def make_surrogate(kind: str, n_members: int = 16, seed: int = 0, **options) -> Surrogate:
    """A surrogate by name: ``ridge`` (bootstrap ridge), ``trees`` (extra trees), ``mixed`` (both), ``gp``
    (Gaussian process) or ``ridge+gp`` (half the members from each). ``options`` go to the
    Gaussian process (e.g. ``lengthscales=(0.7,), noise_ratios=(0.1,)`` to skip the search over them)."""
    if options and kind not in ("gp", "ridge+gp"):
        raise ConfigError(f"surrogate {kind!r} takes no options, got {sorted(options)}")
    if kind == "ridge":
        return BootstrapRidge(n_members=n_members, seed=seed)
    if kind == "trees":
        return ExtraTreesEnsemble(n_members=n_members, seed=seed)
    if kind == "mixed":
        return MixedEnsemble([BootstrapRidge(n_members=n_members, seed=seed),
                              ExtraTreesEnsemble(n_members=n_members, seed=seed)])
    if kind == "gp":
        return GaussianProcess(n_members=n_members, seed=seed, **options)
    if kind == "ridge+gp":
        # half the members each, so the ensemble keeps n_members (every metric's samples pair up in linas)
        if n_members < 2:
            raise ConfigError(f"surrogate 'ridge+gp' needs n_members >= 2 (one per part), got {n_members}")
        return MixedEnsemble([BootstrapRidge(n_members=n_members - n_members // 2, seed=seed),
                              GaussianProcess(n_members=n_members // 2, seed=seed, **options)])
    raise ConfigError(f"surrogate {kind!r} is not known; choose one of {list(SURROGATES)}")
