"""Grouped K-fold cross-validation (learn/cv.py)."""

from __future__ import annotations

import numpy as np
import pytest

from hwnas.learn.cv import grouped_folds, out_of_fold


def test_folds_never_split_a_group_and_none_is_empty():
    groups = np.repeat(np.arange(23), np.arange(1, 24) % 4 + 1)
    folds = grouped_folds(groups, 5, np.random.default_rng(0), repeats=3)
    assert len(folds) == 3
    for fold in folds:
        assert sorted(np.unique(fold)) == list(range(5))
        for g in np.unique(groups):
            assert len(np.unique(fold[groups == g])) == 1
    assert not np.array_equal(folds[0], folds[1])  # each repeat draws its own order
    again = grouped_folds(groups, 5, np.random.default_rng(0), repeats=3)
    assert all(np.array_equal(a, b) for a, b in zip(folds, again))


def test_bad_fold_counts_are_refused():
    with pytest.raises(ValueError, match="needs 2 <= folds <= groups \\(3\\), got 4"):
        grouped_folds(np.array([0, 1, 2]), 4, np.random.default_rng(0))
    with pytest.raises(ValueError, match="got 1"):
        grouped_folds(np.array([0, 1, 2]), 1, np.random.default_rng(0))


def test_out_of_fold_predicts_each_row_from_the_fit_that_did_not_see_it():
    y = np.arange(10.0)
    fold = np.array([0, 1] * 5)

    def mean_of_training_rows(train, held):
        return np.full(held.sum(), y[train].mean())

    oof = out_of_fold(fold, mean_of_training_rows)
    assert np.allclose(oof[fold == 0], y[fold == 1].mean()) and np.allclose(oof[fold == 1], y[fold == 0].mean())
