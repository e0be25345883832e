"""Rank (Gaussian copula) warping of a surrogate's targets.

Measured metrics are skewed and heavy-tailed: a few broken architectures sit
at 10% accuracy, a few huge cells at many times the median latency. A light
regressor fitted on raw values spends itself on those tails. Fitting on the
normal scores of the ranks instead (the Gaussian copula used by several
Bayesian optimisation libraries) makes every target well behaved; predictions
are mapped back through the same monotone curve, extended linearly beyond the
observed range so that a predicted improvement on the best value is kept.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import norm, rankdata


class RankWarp:
    """Monotone map between a metric's values and normal scores of their ranks."""

    def fit(self, y: np.ndarray) -> RankWarp:
        y = np.asarray(y, dtype=float)
        if len(y) < 2 or not np.isfinite(y).all():
            raise ValueError("a rank warp needs at least 2 finite values")
        z = norm.ppf(rankdata(y) / (len(y) + 1))
        order = np.argsort(y, kind="stable")
        ys, zs = y[order], z[order]
        # ties share one score: keep strictly increasing knots for interpolation
        self.y_, idx, counts = np.unique(ys, return_index=True, return_counts=True)
        self.z_ = np.add.reduceat(zs, idx) / counts if len(self.y_) < len(ys) else zs[idx]
        k = max(1, len(self.y_) // 10)
        if len(self.y_) >= 2:
            self.slope_lo_ = (self.y_[k] - self.y_[0]) / max(self.z_[k] - self.z_[0], 1e-12)
            self.slope_hi_ = (self.y_[-1] - self.y_[-1 - k]) / max(self.z_[-1] - self.z_[-1 - k], 1e-12)
        else:
            self.slope_lo_ = self.slope_hi_ = 0.0
        return self

    def transform(self, y: np.ndarray) -> np.ndarray:
        y = np.asarray(y, dtype=float)
        if len(self.y_) < 2:
            return np.zeros_like(y)
        z = np.interp(y, self.y_, self.z_)
        z = np.where(y < self.y_[0], self.z_[0] + (y - self.y_[0]) / max(self.slope_lo_, 1e-12), z)
        return np.where(y > self.y_[-1], self.z_[-1] + (y - self.y_[-1]) / max(self.slope_hi_, 1e-12), z)

    def inverse(self, z: np.ndarray) -> np.ndarray:
        z = np.asarray(z, dtype=float)
        if len(self.y_) < 2:
            return np.full_like(z, self.y_[0])
        y = np.interp(z, self.z_, self.y_)
        y = np.where(z < self.z_[0], self.y_[0] + (z - self.z_[0]) * self.slope_lo_, y)
        return np.where(z > self.z_[-1], self.y_[-1] + (z - self.z_[-1]) * self.slope_hi_, y)
