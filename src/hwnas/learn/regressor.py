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

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import lsq_linear, nnls

_CONTROLLER = None


def _single_thread_blas():
    """These systems are tiny (tens of columns): BLAS threads only contend, badly so on a shared machine."""
    global _CONTROLLER
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn
        return contextlib.nullcontext()
    if _CONTROLLER is None:  # finding the BLAS libraries reads the process's maps: do it once
        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER.limit(limits=1)


#: default shrinkage per feature group (penalty weight on a full-size contribution, relative to mean target)
DEFAULT_SHRINK = {"op": 0.0, "edge_op": 3.0, "struct": 1.0}


def _lower_bounded_lsq(A: np.ndarray, b: np.ndarray, lower: np.ndarray) -> np.ndarray | None:
    """min ||A x - b|| subject to x >= lower (entries 0.. or -inf), exactly, as one non-negative least squares.

    Bounded variables are shifted to start at 0, unbounded ones split into a
    difference of two non-negative parts. Returns ``None`` if NNLS gives up.
    """
    free = ~np.isfinite(lower)
    shift = np.where(free, 0.0, lower)
    try:
        z, _ = nnls(np.concatenate([A, -A[:, free]], axis=1), b - A @ shift, maxiter=50 * A.shape[1])
    except RuntimeError:
        return None
    x = z[: A.shape[1]] + shift
    x[free] -= z[A.shape[1]:]
    return x if np.all(np.isfinite(x)) else None


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
    max_iter: int = 30
    solver: str = "nnls"
    tol: float = 1e-6

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
        y_scale = float(np.mean(y))
        # a column never seen in training keeps unit scale, so its prior still holds it
        col_scale = np.maximum(np.abs(X).max(axis=0), 1.0)
        strengths = dict(self.shrink if prior is None else (prior_shrink or {}))
        lam = np.array([strengths.get(g, 0.0) for g in self.groups], dtype=np.float64)
        lam_b = strengths.get("intercept", 0.0) if prior is not None else 0.0
        mean = np.zeros(p) if prior is None else np.asarray(prior.coef, dtype=np.float64)
        mean_b = 0.0 if prior is None else float(prior.intercept)
        # a tiny ridge everywhere keeps a column never seen in training (all zeros) at its prior mean
        pen = np.sqrt(np.maximum(lam, 1e-8)) * col_scale / y_scale
        pen_b = np.sqrt(lam_b) / y_scale
        penalised = pen > 0

        # the model is linear: stack the relative-error rows and the prior rows into one design,
        # then minimise the soft-L1 loss by iteratively reweighted bounded least squares
        design = np.concatenate([np.ones((n, 1)), X], axis=1) / y[:, None]
        prior_rows = [np.concatenate([[0.0], np.where(np.arange(p) == j, pen[j], 0.0)])
                      for j in np.flatnonzero(penalised)]
        prior_target = [pen[j] * mean[j] for j in np.flatnonzero(penalised)]
        if pen_b > 0:
            prior_rows.append(np.concatenate([[pen_b], np.zeros(p)]))
            prior_target.append(pen_b * mean_b)
        prior_A = np.array(prior_rows).reshape(-1, p + 1)
        prior_b = np.array(prior_target)

        lower = np.full(p + 1, -np.inf)
        lower[0] = 0.0
        for j, g in enumerate(self.groups):
            if g in self.nonneg_groups:
                lower[j + 1] = 0.0
        bounds = (lower, np.full(p + 1, np.inf))
        with _single_thread_blas():
            return self._irls(design, prior_A, prior_b, w, bounds)

    def _irls(self, design, prior_A, prior_b, w, bounds) -> AdditiveFit:
        """Iteratively reweighted bounded least squares for the soft-L1 loss on relative errors."""
        n = design.shape[0]
        target = np.ones(n)
        robust = np.ones(n)
        theta = None
        for _ in range(self.max_iter):
            rw = np.sqrt(w * robust)
            A = np.concatenate([design * rw[:, None], prior_A], axis=0)
            b = np.concatenate([target * rw, prior_b])
            if A.shape[0] > A.shape[1]:  # same minimiser on the (p+1)-row reduced system: fast for many rows
                q, r = np.linalg.qr(A, mode="reduced")
                A, b = r, q.T @ b
            new = _lower_bounded_lsq(A, b, bounds[0]) if self.solver == "nnls" else None
            if new is None:
                with np.errstate(invalid="ignore", over="ignore"):
                    new = lsq_linear(A, b, bounds=bounds, method="trf" if self.solver == "nnls" else self.solver).x
                if not np.all(np.isfinite(new)):  # the interior-point solver can break down; BVLS is exact
                    new = lsq_linear(A, b, bounds=bounds, method="bvls").x
            done = theta is not None and np.max(np.abs(new - theta)) <= self.tol * (1 + np.max(np.abs(new)))
            theta = new
            if done:
                break
            rel = design @ theta - 1.0  # relative error of each row
            robust = 1.0 / np.sqrt(1.0 + (rel / self.robust_scale) ** 2)  # soft-L1 (pseudo-Huber) weights
        return AdditiveFit(float(theta[0]), theta[1:].copy())
