"""The regressor inside the latency predictor: an additive cost model with priors, fitted robustly.

``y ~ base + X @ coef`` where each column of X counts executed work. Why this
and not a bigger regressor: latency is close to a sum of per-operation costs,
so a model with that shape learns from 20 measurements, where a tree ensemble
or a free-form ridge on one-hot codes needs thousands. The priors:

* costs of whole operation types (group ``op``) are non-negative and unshrunk;
* per-position deviations (``edge_op``) and graph-level terms (``struct``)
  are shrunk towards a prior mean (zero, or a source device's coefficients
  scaled, for few-shot transfer), with a strength per group;
* the loss is on *relative* error (what "within 10 %" measures) and is
  soft-L1 (Huber-like), so a few runs that were disturbed (measurement noise,
  a throttled device) do not drag every cost.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import least_squares

#: default shrinkage per feature group (penalty weight on a full-size contribution, relative to mean target)
DEFAULT_SHRINK = {"op": 0.0, "edge_op": 3.0, "struct": 1.0}


@dataclass
class AdditiveFit:
    """Fitted coefficients of one additive model."""

    intercept: float
    coef: np.ndarray

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.intercept + np.asarray(X, dtype=np.float64) @ self.coef


@dataclass
class AdditiveRegressor:
    """Robust, shrunk, non-negative additive regression (see module docstring).

    ``shrink`` maps group -> penalty strength; ``robust_scale`` is the relative
    error beyond which a residual counts linearly instead of quadratically;
    ``nonneg_groups`` are groups whose costs may not be negative.
    """

    groups: Sequence[str]
    shrink: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_SHRINK))
    robust_scale: float = 0.05
    nonneg_groups: tuple[str, ...] = ("op",)

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        prior: AdditiveFit | None = None,
        prior_shrink: Mapping[str, float] | None = None,
        weights: np.ndarray | None = None,
    ) -> AdditiveFit:
        """Fit on rows ``X`` (n x p) and positive targets ``y``.

        With ``prior``, every coefficient is pulled towards the prior's (and the
        intercept towards its intercept) with strengths ``prior_shrink`` per
        group (plus ``"intercept"``); this is how a source device's model is
        adapted from a handful of target measurements.
        """
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        n, p = X.shape
        if len(self.groups) != p:
            raise ValueError(f"{p} feature columns but {len(self.groups)} groups")
        if n == 0:
            raise ValueError("no rows to fit")
        if not np.all(np.isfinite(y)) or np.any(y <= 0):
            raise ValueError("targets must be finite and positive")
        w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
        sw = np.sqrt(w)
        y_scale = float(np.mean(y))
        col_scale = np.maximum(np.abs(X).max(axis=0), 1e-12)
        strengths = dict(self.shrink if prior is None else (prior_shrink or {}))
        lam = np.array([strengths.get(g, 0.0) for g in self.groups], dtype=np.float64)
        lam_b = strengths.get("intercept", 0.0) if prior is not None else 0.0
        mean = np.zeros(p) if prior is None else np.asarray(prior.coef, dtype=np.float64)
        mean_b = 0.0 if prior is None else float(prior.intercept)
        pen = np.sqrt(lam) * col_scale / y_scale
        pen_b = np.sqrt(lam_b) / y_scale
        penalised = pen > 0

        def residuals(theta: np.ndarray) -> np.ndarray:
            b, c = theta[0], theta[1:]
            fit_part = sw * ((b + X @ c) - y) / y
            parts = [fit_part, (pen * (c - mean))[penalised]]
            if pen_b > 0:
                parts.append(np.array([pen_b * (b - mean_b)]))
            return np.concatenate(parts)

        lower = np.full(p + 1, -np.inf)
        lower[0] = 0.0
        for j, g in enumerate(self.groups):
            if g in self.nonneg_groups:
                lower[j + 1] = 0.0
        if prior is None:
            start = np.zeros(p + 1)
            start[0] = 0.5 * float(np.min(y))
            mean_work = X.mean(axis=0)
            ops = np.array([g in self.nonneg_groups for g in self.groups])
            if ops.any() and mean_work[ops].sum() > 0:
                start[1:][ops] = (float(np.mean(y)) - start[0]) / mean_work[ops].sum()
        else:
            start = np.concatenate([[max(mean_b, 0.0)], np.maximum(mean, lower[1:])])
        start = np.maximum(start, lower)
        result = least_squares(
            residuals, start, bounds=(lower, np.full(p + 1, np.inf)), loss="soft_l1", f_scale=self.robust_scale
        )
        return AdditiveFit(float(result.x[0]), result.x[1:].copy())
