"""Grouped K-fold cross-validation: rows that share a measurement never sit on both sides of a split.

A measurement table may copy one measurement to several rows (isomorphic cells,
one executed graph); a fold that trains on one of them and tests on another
would score a lookup, not a prediction. :func:`grouped_folds` assigns whole
groups to folds (groups in a random order, dealt round-robin), and
:func:`out_of_fold` collects each row's prediction from the fit that did not see it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def grouped_folds(groups: np.ndarray, n_folds: int, rng: np.random.Generator, repeats: int = 1) -> list[np.ndarray]:
    """``repeats`` fold assignments of the rows: for each, a fold number in ``0 .. n_folds-1`` per row,
    equal for rows of one group. Each repeat draws its own random order of the groups from ``rng``."""
    groups = np.asarray(groups)
    uniq = np.unique(groups)
    if not 2 <= n_folds <= len(uniq):
        raise ValueError(f"grouped cross-validation needs 2 <= folds <= groups ({len(uniq)}), got {n_folds}")
    out = []
    for _ in range(repeats):
        order = rng.permutation(len(uniq))
        fold_of = dict(zip(uniq[order].tolist(), (np.arange(len(uniq)) % n_folds).tolist()))
        out.append(np.array([fold_of[g] for g in groups.tolist()]))
    return out


def out_of_fold(fold: np.ndarray, fit_predict: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> np.ndarray:
    """Each row's prediction from the fit on the other folds: ``fit_predict(train_mask, held_mask)``
    returns the predictions of the held rows."""
    oof = np.empty(len(fold))
    for f in np.unique(fold):
        held = fold == f
        oof[held] = fit_predict(~held, held)
    return oof
