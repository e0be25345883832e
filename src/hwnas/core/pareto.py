"""Pareto fronts and hypervolume, on matrices where every column is minimised.

Sorting and hypervolume come from moocore (C implementations); these wrappers
fix the conventions: rows with a NaN are never on a front, and points not
strictly better than the reference point count nothing.
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
