"""Rows of a product-space encoding read as blocks: the distinct block settings, and which one each row holds where.

A network of K stages holds K cells, and across the rows a search evaluates or predicts the same cells
recur: in other networks, at other stages (block copies, mutations of one stage). A kernel that compares
every block of one row with every block of another (:class:`~hwnas.learn.gp.GaussianProcess` with a
shared weight) is computed once per pair of distinct settings and gathered: on the K-stage benchmark
about a third of the blocks are distinct, so a tenth of the pairs.
"""

from __future__ import annotations

import numpy as np


def _unique_rows(M: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of ``M`` and, per row, the index of its distinct row (rows compared byte for byte)."""
    M = np.ascontiguousarray(M)
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
        """``sum_s sum_t values[setting of row i's block s, setting of other row j's block t]``, (n, m)."""
        per_setting = values[:, other.index[:, 0]]  # (u, m): summed over the other rows' positions first
        for t in range(1, other.index.shape[1]):
            per_setting += values[:, other.index[:, t]]
        out = per_setting[self.index[:, 0]]
        for s in range(1, self.index.shape[1]):
            out += per_setting[self.index[:, s]]
        return out
