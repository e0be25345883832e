"""Rows of a product-space encoding read as blocks: the distinct block settings, and which one each row holds where.

A network of K stages holds K cells, and across the rows a search evaluates or predicts the same cells
recur: in other networks, at other stages (block copies, mutations of one stage). A kernel that compares
every block of one row with every block of another (:class:`~hwnas.learn.gp.GaussianProcess` with a
shared weight) is computed once per pair of distinct settings and gathered: on the K-stage benchmark
about a third of the blocks are distinct, so a tenth of the pairs.
"""

from __future__ import annotations

import numpy as np

#: fixed weights that project a block setting to one number (sorting numbers is several times faster than
#: sorting rows byte for byte)
_PROJECTION = np.random.default_rng(20261207).uniform(1.0, 2.0, 4096)


def _unique_rows(M: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of ``M`` and, per row, the index of its distinct row. Rows are told apart by a fixed
    random projection, checked exactly: if two distinct rows ever share one (or a row is not finite), the
    rows are compared byte for byte instead."""
    M = np.ascontiguousarray(M)
    if M.shape[1] <= len(_PROJECTION):
        _, first, inverse = np.unique(M @ _PROJECTION[: M.shape[1]], return_index=True, return_inverse=True)
        if np.array_equal(M[first][inverse], M):
            return M[first], inverse.ravel()
    keys = M.view(np.dtype((np.void, M.dtype.itemsize * M.shape[1]))).ravel()
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    return M[first], inverse.ravel()


class BlockRows:
    """Rows' blocks (``blocks``: G slices of equal width, one after the other) as distinct settings:
    ``unique`` (u, width) and ``index`` (n, G), the setting of row i's block s."""

    def __init__(self, X: np.ndarray, blocks):
        G = len(blocks)
        cols = slice(blocks[0].start, blocks[-1].stop)
        n = len(X)
        self.unique, inverse = _unique_rows(np.asarray(X)[:, cols].reshape(n * G, -1))
        self.index = inverse.reshape(n, G)
        self.sq = (self.unique * self.unique).sum(axis=1)

    def rows(self, which: slice) -> BlockRows:
        """The rows ``which``, with the distinct settings they hold (a few new rows compared with a large
        candidate pool cost a few settings' products, not every training setting's)."""
        index = self.index[which]
        used, inverse = np.unique(index, return_inverse=True)
        out = BlockRows.__new__(BlockRows)
        out.unique, out.sq = self.unique[used], self.sq[used]
        out.index = inverse.reshape(index.shape)
        return out

    def scaled(self, lo: np.ndarray, scale: np.ndarray, dtype=np.float32) -> BlockRows:
        """The same rows with every block's columns mapped to ``(x - lo) / scale`` (one block's ``lo`` and
        ``scale``, alike for every block): distinct settings stay distinct."""
        out = BlockRows.__new__(BlockRows)
        out.unique = ((self.unique - lo) / scale).astype(dtype)
        out.sq = (out.unique * out.unique).sum(axis=1)
        out.index = self.index
        return out

    def sqdist(self, other: BlockRows) -> np.ndarray:
        """Squared distances between this set's distinct settings and ``other``'s, (u, u_other)."""
        D = self.unique @ other.unique.T
        D *= -2.0
        D += self.sq[:, None]
        D += other.sq[None, :]
        return np.maximum(D, 0.0, out=D)

    def same_position(self, values: np.ndarray, other: BlockRows) -> np.ndarray:
        """``sum_s values[setting of row i's block s, setting of other row j's block s]``, (n, m)."""
        out = values[self.index[:, 0][:, None], other.index[:, 0][None, :]]
        for s in range(1, self.index.shape[1]):
            out += values[self.index[:, s][:, None], other.index[:, s][None, :]]
        return out

    def every_pair(self, values: np.ndarray, other: BlockRows) -> np.ndarray:
        """``sum_s sum_t values[setting of row i's block s, setting of other row j's block t]``, (n, m).
        One side's positions are summed on its distinct settings first: the side whose partial sums are
        smaller (a large pool of few distinct settings, or few rows against many settings)."""
        a, b = self.index, other.index
        if len(self.unique) * len(b) <= len(a) * len(other.unique):
            partial = values[:, b[:, 0]]  # (u, m): summed over the other rows' positions first
            for t in range(1, b.shape[1]):
                partial += values[:, b[:, t]]
            out = partial[a[:, 0]]
            for s in range(1, a.shape[1]):
                out += partial[a[:, s]]
            return out
        partial = values[a[:, 0]]  # (n, u_other): summed over these rows' positions first
        for s in range(1, a.shape[1]):
            partial += values[a[:, s]]
        out = partial[:, b[:, 0]]
        for t in range(1, b.shape[1]):
            out += partial[:, b[:, t]]
        return out
