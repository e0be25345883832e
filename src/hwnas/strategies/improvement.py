"""Hypervolume improvement of many candidate points over a front, all minimised.

The predictor-guided strategy scores thousands of candidates under every
ensemble member at each pick, so the two-objective case (the common one) is
computed exactly and fully vectorised from the staircase of the front; more
objectives fall back to moocore's hypervolume per candidate.
"""

from __future__ import annotations

import numpy as np

from hwnas.core.pareto import hypervolume, nondominated_mask


def _clean_front(front: np.ndarray, ref: np.ndarray) -> np.ndarray:
    front = np.asarray(front, dtype=float).reshape(-1, len(ref))
    front = front[np.isfinite(front).all(axis=1) & (front < ref).all(axis=1)]
    if len(front):
        front = np.unique(front[nondominated_mask(front)], axis=0)
    return front


def hv_improvement(points: np.ndarray, front: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Hypervolume each row of ``points`` would add to ``front`` (up to ``ref``); 0 if it adds nothing.

    ``points`` may have any leading shape ``(..., n, d)``; the result has shape ``(..., n)``.
    Non-finite points improve nothing.
    """
    points = np.asarray(points, dtype=float)
    ref = np.asarray(ref, dtype=float)
    d = len(ref)
    if points.shape[-1] != d:
        raise ValueError(f"points have {points.shape[-1]} objectives, the reference point {d}")
    front = _clean_front(front, ref)
    flat = points.reshape(-1, d)
    if d == 1:
        best = front[:, 0].min() if len(front) else ref[0]
        out = np.maximum(best - flat[:, 0], 0.0)
    elif d == 2:
        out = _hvi_2d(flat, front, ref)
    else:
        out = _hvi_nd(flat, front, ref)
    out = np.where(np.isfinite(flat).all(axis=1), out, 0.0)
    return out.reshape(points.shape[:-1])


def _hvi_2d(P: np.ndarray, front: np.ndarray, ref: np.ndarray) -> np.ndarray:
    a, b = P[:, 0], P[:, 1]
    r1, r2 = ref
    if len(front) == 0:
        return np.maximum(r1 - a, 0.0) * np.maximum(r2 - b, 0.0)
    order = np.argsort(front[:, 0], kind="stable")
    x, y = front[order, 0], front[order, 1]  # x increasing, y decreasing on a non-dominated front
    m = len(x)
    # the attainment staircase u(t) = min(r2, min{y_j : x_j <= t}); C(t) = integral of u from x_1 to t
    cum = np.concatenate([[0.0], np.cumsum(y[:-1] * np.diff(x))])

    def C(t: np.ndarray) -> np.ndarray:
        idx = np.searchsorted(x, t, side="right") - 1
        j = np.clip(idx, 0, m - 1)
        return np.where(idx < 0, r2 * (t - x[0]), cum[j] + y[j] * (t - x[j]))

    # u(t) > b exactly for t < x_J, J = number of front points with y > b
    n_above = m - np.searchsorted(y[::-1], b, side="right")
    U = np.where(n_above >= m, r1, x[np.clip(n_above, 0, m - 1)])
    U = np.minimum(U, r1)
    ok = (a < U) & (b < r2)
    a_ok = np.where(ok, a, 0.0)
    U_ok = np.where(ok, U, 0.0)
    gain = (C(U_ok) - C(a_ok)) - b * (U_ok - a_ok)
    return np.where(ok, np.maximum(gain, 0.0), 0.0)


def _hvi_nd(P: np.ndarray, front: np.ndarray, ref: np.ndarray) -> np.ndarray:
    base = hypervolume(front, ref)
    out = np.zeros(len(P))
    inside = np.flatnonzero((P < ref).all(axis=1) & np.isfinite(P).all(axis=1))
    if len(front):
        # a candidate weakly dominated by a front point adds nothing: skip the hypervolume call
        dominated = (front[None, :, :] <= P[inside, None, :]).all(axis=2).any(axis=1)
        inside = inside[~dominated]
    for i in inside:
        out[i] = hypervolume(np.vstack([front, P[i]]) if len(front) else P[i:i + 1], ref) - base
    return np.maximum(out, 0.0)
