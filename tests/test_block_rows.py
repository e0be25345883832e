"""Rows read as blocks (learn/block_rows.py): distinct settings, their index, and the gathered sums."""

import numpy as np
import pytest

from hwnas.learn import block_rows
from hwnas.learn.block_rows import BlockRows

BLOCKS = [slice(0, 3), slice(3, 6), slice(6, 9)]


def _rows(n: int = 40, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    settings = np.eye(3, dtype=np.float32)[rng.integers(0, 3, (5, 1))].reshape(5, 3)  # few settings: many repeats
    settings = np.vstack([settings, [[0.5, 0.0, 2.0]]]).astype(np.float32)
    return settings[rng.integers(0, len(settings), (n, 3))].reshape(n, 9)


def _check_exact(X: np.ndarray, b: BlockRows) -> None:
    """Every block of every row is its distinct setting, and the distinct settings are distinct."""
    for i in range(len(X)):
        for s, c in enumerate(BLOCKS):
            np.testing.assert_array_equal(b.unique[b.index[i, s]], X[i, c])
    assert len(np.unique(b.unique, axis=0)) == len(b.unique)


def test_distinct_settings_and_index():
    X = _rows()
    b = BlockRows(X, BLOCKS)
    _check_exact(X, b)
    assert len(b.unique) == len(np.unique(X.reshape(-1, 3), axis=0))
    np.testing.assert_allclose(b.sq, (b.unique ** 2).sum(1))


@pytest.mark.parametrize("projection", ["colliding", "non-finite"])
def test_rows_told_apart_when_the_projection_cannot(monkeypatch, projection):
    """A projection that maps distinct settings to one number (or rows it cannot project) falls back to
    comparing rows byte for byte: the settings stay distinct."""
    X = np.array([[1, 0, 0, 0, 1, 0, 0, 0, 1], [0, 1, 0, 1, 0, 0, 1, 0, 0]], dtype=np.float32)
    if projection == "colliding":
        monkeypatch.setattr(block_rows, "_PROJECTION", np.ones(4096))  # every one-hot setting projects to 1
    else:
        X[1, 0] = np.nan
    b = BlockRows(X, BLOCKS)
    assert len(b.unique) == (3 if projection == "colliding" else 4)  # [nan, 1, 0] is a fourth setting
    for i in range(2):
        for s, c in enumerate(BLOCKS):
            np.testing.assert_array_equal(b.unique[b.index[i, s]], X[i, c])


@pytest.mark.parametrize("sizes", [(12, 7), (7, 12), (3, 40)])
def test_gathered_sums_match_the_loops(sizes):
    """Both orders of summing every pair of positions (chosen by the sizes) give the written-out sums."""
    A, B = _rows(sizes[0], 1), _rows(sizes[1], 2)
    a, b = BlockRows(A, BLOCKS), BlockRows(B, BLOCKS)
    values = a.sqdist(b)
    for i in range(len(A)):
        for j in range(len(B)):
            blocks_i = [A[i, c] for c in BLOCKS]
            blocks_j = [B[j, c] for c in BLOCKS]
            same = sum(((x - y) ** 2).sum() for x, y in zip(blocks_i, blocks_j))
            every = sum(((x - y) ** 2).sum() for x in blocks_i for y in blocks_j)
            assert a.same_position(values, b)[i, j] == pytest.approx(same, abs=1e-5)
            assert a.every_pair(values, b)[i, j] == pytest.approx(every, abs=1e-5)


def test_a_slice_of_rows_keeps_only_its_settings():
    X = _rows(30, 3)
    b = BlockRows(X, BLOCKS)
    part = b.rows(slice(20, None))
    _check_exact(X[20:], part)
    assert len(part.unique) == len(np.unique(X[20:].reshape(-1, 3), axis=0))
