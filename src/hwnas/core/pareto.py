"""Pareto fronts and hypervolume, on matrices where every column is minimised.

Sorting and hypervolume come from moocore (C implementations); what is ours is
the scoring convention of a search: the hypervolume ratio of the front found to
the true front, with a shared reference point.
"""

from __future__ import annotations

import moocore
import numpy as np


def nondominated_mask(F: np.ndarray) -> np.ndarray:
    """Boolean mask of the rows of ``F`` (all columns minimised) that no other row dominates.

    Rows with a NaN are never on the front. Duplicated rows are all kept.
    """
    F = np.asarray(F, dtype=float)
    mask = np.zeros(len(F), dtype=bool)
    finite = np.isfinite(F).all(axis=1)
    if finite.any():
        mask[np.flatnonzero(finite)] = moocore.is_nondominated(F[finite], keep_weakly=True)
    return mask


def front_ranks(F: np.ndarray) -> np.ndarray:
    """Non-domination rank of each row (0 = Pareto front); rows with a NaN get the worst rank."""
    F = np.asarray(F, dtype=float)
    ranks = np.full(len(F), len(F), dtype=np.int64)
    finite = np.isfinite(F).all(axis=1)
    if finite.any():
        ranks[np.flatnonzero(finite)] = moocore.pareto_rank(F[finite])
    return ranks


def hypervolume(F: np.ndarray, ref: np.ndarray) -> float:
    """Hypervolume dominated by the rows of ``F`` up to ``ref``; rows not strictly better than ``ref`` count nothing."""
    F = np.asarray(F, dtype=float)
    ref = np.asarray(ref, dtype=float)
    if len(F) == 0:
        return 0.0
    F = F[np.isfinite(F).all(axis=1)]
    F = F[(F < ref).all(axis=1)]
    if len(F) == 0:
        return 0.0
    return float(moocore.hypervolume(F, ref=ref))


def hypervolume_ratio(F: np.ndarray, true_front: np.ndarray, ref: np.ndarray) -> float:
    """Hypervolume of ``F`` divided by that of the true front (1.0 = the whole front was found)."""
    denom = hypervolume(true_front, ref)
    if denom <= 0:
        raise ValueError("the true front dominates nothing below the reference point")
    return hypervolume(F, ref) / denom
