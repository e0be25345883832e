"""Bootstrap ridge ensemble: the surrogate a search starts with (``ridge``)."""

from __future__ import annotations

import numpy as np

from hwnas.learn.surrogate import Surrogate, check_members, check_xy


def _thin_svd(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Left singular vectors and singular values of ``X``. LAPACK's divide-and-conquer SVD (``gesdd``, NumPy's)
    fails to converge on rare finite matrices; the QR-iteration driver (``gesvd``) is slower and does not."""
    try:
        U, s, _ = np.linalg.svd(X, full_matrices=False)
    except np.linalg.LinAlgError:
        from scipy.linalg import svd

        U, s, _ = svd(X, full_matrices=False, lapack_driver="gesvd")
    return U, s


class BootstrapRidge(Surrogate):
    """Ridge regressions on bootstrap resamples, the penalty picked once by generalised cross-validation.

    A ridge reads the encoding globally (one coefficient per one-hot choice), which is what a search
    needs while it knows little. Members differ by their bootstrap resample, so their disagreement
    grows away from the data. Closed-form fits (one batched set of min(n, d)-sized solves for all members), so a
    16-member ensemble refits in about a millisecond; prediction is one matrix product for all members.
    A refit on grown data draws the resamples from the same seed.
    """

    def __init__(self, n_members: int = 16, alphas=(1e-2, 3e-2, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0), seed: int = 0):
        self.n_members = check_members(n_members)
        self.alphas = tuple(alphas)
        self.seed = seed

    def fit(self, X, y):
        X, y = check_xy(X, y)
        rng = np.random.default_rng(self.seed)
        self.alpha_ = self._gcv_alpha(X, y)
        n, d = X.shape
        W = rng.multinomial(n, np.full(n, 1.0 / n), size=self.n_members).astype(np.float64)  # (K, n)
        sw = W.sum(axis=1)
        xm = (W @ X) / sw[:, None]  # (K, d) weighted means
        ym = (W @ y) / sw  # (K,)
        if d > n:  # wide encodings: the same solution from n x n systems (push-through identity)
            sq = np.sqrt(W)  # (K, n); rows left out of a resample get zero weight
            S = sq[:, :, None] * (X[None] - xm[:, None, :])  # (K, n, d)
            G = np.matmul(S, S.transpose(0, 2, 1)) + self.alpha_ * np.eye(n)[None]
            r = sq * (y[None] - ym[:, None])  # (K, n)
            self.coef_ = np.einsum("knd,kn->kd", S, np.linalg.solve(G, r[:, :, None])[:, :, 0])
        else:  # all members' weighted, centred normal equations at once
            A = np.matmul((W[:, :, None] * X[None]).transpose(0, 2, 1), X) - sw[:, None, None] * xm[:, :, None] * xm[:, None, :]
            A += self.alpha_ * np.eye(d)[None]
            b = (W * y) @ X - sw[:, None] * xm * ym[:, None]
            self.coef_ = np.linalg.solve(A, b[:, :, None])[:, :, 0]  # (K, d)
        self.intercept_ = ym - np.einsum("kd,kd->k", xm, self.coef_)  # (K,)
        return self

    def _gcv_alpha(self, X: np.ndarray, y: np.ndarray) -> float:
        """The penalty minimising generalised cross-validation error, from one SVD."""
        Xc, yc = X - X.mean(axis=0), y - y.mean()
        U, s = _thin_svd(Xc)
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
