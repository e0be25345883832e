"""Exact Gaussian-process regression (``gp``): a local surrogate, extended row by row as a search grows."""

from __future__ import annotations

import itertools

import numpy as np
from scipy.linalg import solve_triangular

from hwnas.learn.block_rows import BlockRows
from hwnas.learn.surrogate import BOUNDED_ROWS, Pool, Surrogate, check_members, check_xy


def _column_range(columns) -> slice:
    """A group of feature columns (consecutive indices) as a slice: a view of the columns, not a copy."""
    c = np.asarray(columns, dtype=np.intp).ravel()
    if not len(c) or not np.array_equal(c, np.arange(c[0], c[0] + len(c))):
        raise ValueError(f"a group of columns must be consecutive indices, got {c.tolist()[:8]}...")
    return slice(int(c[0]), int(c[0]) + len(c))


def _around(grid: tuple, value: float) -> tuple:
    """The grid's values one step either side of ``value`` (a grid value), ``value`` included."""
    i = grid.index(value)
    return grid[max(i - 1, 0): i + 2]


class GaussianProcess(Surrogate):
    """Exact Gaussian-process regression; its members are draws from the posterior of the mean function.

    The kernel is a squared exponential on the features scaled to unit range
    (one-hot columns stay 0/1, counts become fractions), so on one-hot
    encodings it decays with the number of differing choices: two
    architectures are alike when they share most choices, and how fast
    likeness decays, the noise level and the signal variance are chosen by
    maximising the marginal likelihood over a small grid (closed-form signal
    variance). Unlike a linear model it extrapolates nothing far from the
    data: near an evaluated architecture it follows what was measured there,
    far away it returns to the mean with a wide spread.

    ``predict_members`` returns antithetic pairs ``mean +- sd * z`` (z drawn
    once per call from ``seed``; an odd count adds one member at the mean):
    the members' mean is the posterior mean exactly, their spread its
    standard deviation, each candidate's draws independent of the others'
    (a batch picked greedily scores each candidate on its own draws).

    Product spaces (``groups``: the feature columns of each block, e.g. each stage of a network of
    stages): the kernel is then ``w`` times the joint squared exponential plus ``1 - w`` times the mean
    over blocks of a squared exponential on each block's columns (an additive kernel, as in additive
    GP-based optimisation), ``w`` among ``joint_weights`` chosen by the marginal likelihood with the
    length scale (relative to each block's typical distance) and the noise. An architecture that shares
    a block with evaluated ones is then alike to them in that block's share, however much its other
    blocks differ, so what is learned of a block carries over to every network that holds it; where
    blocks interact, the likelihood picks the joint kernel.

    Alike blocks (``shared_weights`` given: the blocks are settings of one space, their columns laid out
    alike, e.g. every stage an NB201 cell): the per-block part may also compare each block of one
    architecture with every other block of the other, with weight ``b`` among ``shared_weights``
    (chosen with the rest). At ``b = 1`` a block's setting is worth the same wherever it sits (one
    function of a block, summed over the blocks), so every evaluated network tells about each of its
    cells at every position; at ``b = 0`` each position has its own function; in between, a shared
    part plus a part per position (as a multi-task kernel). Where stages do different work (another
    task or device per stage), the likelihood keeps ``b`` low. The shared part needs one length scale
    for every block: the blocks' typical distances are averaged, and each column is scaled by its
    range over every block.

    Growing data: the kernel (length scale, noise ratio, joint and shared weight) is re-chosen over the grid only once the
    data has grown by half since the last choice (:attr:`regrow`); the marginal likelihood moves
    little when five rows join a hundred. Beyond :data:`~hwnas.learn.surrogate.BOUNDED_ROWS` rows the
    re-choice searches the length scales and noise ratios one grid step either side of the current
    ones. In between, :meth:`extend` keeps the whole kernel (feature scaling too) and extends the
    Cholesky factor by the new rows' block, and :meth:`refit` (new inputs) keeps the chosen length
    scale, noise ratio, joint and shared weight. Predictions of a :class:`~hwnas.learn.surrogate.Pool`
    keep the cross-kernel and (once a variance is asked of that pool) its triangular solve, and an
    extended model only adds the new rows' part: ``O(k n m)`` for ``k`` new rows, ``n`` evaluated
    rows and ``m`` candidates, instead of ``O(n^2 m)`` per prediction.
    """

    #: the kernel is re-chosen over the grid when the rows reach this multiple of the rows at the last choice
    regrow = 1.5

    def __init__(self, n_members: int = 16, lengthscales=(0.35, 0.5, 0.7, 1.0, 1.4, 2.0),
                 noise_ratios=(0.01, 0.03, 0.1, 0.3, 1.0), seed: int = 0, groups=None,
                 joint_weights=(0.0, 0.5, 1.0), shared_weights=(0.0,)):
        self.n_members = check_members(n_members)
        self.lengthscales = tuple(lengthscales)
        self.noise_ratios = tuple(noise_ratios)
        self.seed = seed
        self.groups = None if groups is None or len(groups) < 2 else tuple(_column_range(g) for g in groups)
        weights = tuple(float(w) for w in joint_weights)
        if not weights or any(not 0.0 <= w <= 1.0 for w in weights):
            raise ValueError(f"joint_weights must be values in [0, 1], got {joint_weights!r}")
        self.joint_weights = weights if self.groups is not None else (1.0,)  # no groups: the joint kernel
        shared = tuple(float(b) for b in shared_weights)
        if not shared or any(not 0.0 <= b <= 1.0 for b in shared):
            raise ValueError(f"shared_weights must be values in [0, 1], got {shared_weights!r}")
        if shared != (0.0,) and not self._alike():
            raise ValueError("shared_weights need groups of equal width, one after the other (alike blocks)")
        self.shared_weights = shared
        self.shared_weight_ = 0.0

    def _alike(self) -> bool:
        """Two or more groups of one width, each starting where the last ends."""
        g = self.groups
        return g is not None and len({c.stop - c.start for c in g}) == 1 and all(
            a.stop == b.start for a, b in zip(g[:-1], g[1:]))

    @property
    def _shares(self) -> bool:
        """Whether the grid holds a shared weight above 0 (the blocks are then compared with one another)."""
        return self.shared_weights != (0.0,)

    # ------------------------------------------------------------------ fitting
    def fit(self, X, y):
        """Fit with the kernel chosen over the whole grid."""
        self._fit(X, y, self.lengthscales, self.noise_ratios)
        self.chosen_at_ = len(self._X)
        return self

    def refit(self, X, y) -> GaussianProcess:
        """A new model on ``X, y`` with this one's length scale, noise ratio, joint and shared weight (the grid
        again once the data has grown by :attr:`regrow` since the last choice); feature scaling from ``X``."""
        new = self._like()
        if len(y) >= self.regrow * self.chosen_at_:
            if len(y) <= BOUNDED_ROWS:
                return new.fit(X, y)
            # beyond BOUNDED_ROWS a grid point costs a Cholesky factor of n^3 / 3: the grid is searched one
            # step either side of the current choice, which moves little once chosen on hundreds of rows
            new._fit(X, y, _around(self.lengthscales, self.lengthscale_rel_),
                     _around(self.noise_ratios, self.noise_ratio_))
            new.chosen_at_ = len(new._X)
            return new
        new._fit(X, y, (self.lengthscale_rel_,), (self.noise_ratio_,), (self.joint_weight_,), (self.shared_weight_,))
        new.chosen_at_ = self.chosen_at_
        return new

    def extend(self, X, y) -> GaussianProcess:
        """A new model on ``X`` (its first rows this model's training rows) and ``y`` (all targets, old rows
        included: they may change) with this model's whole kernel: scaling, length scale, noise ratio.

        The Cholesky factor is extended by the new rows' block; the mean, signal variance and weights
        are refitted to ``y``. Cached pool predictions move to the new model, which adds the new rows'
        part on its next prediction. Once the data has grown by :attr:`regrow`, or when ``X`` does not
        start with the training rows, this is :meth:`refit`.
        """
        X, y = check_xy(X, y)
        if len(y) >= self.regrow * self.chosen_at_ or not self.can_extend(X):
            return self.refit(X, y)
        return self._extended(X, y)

    def _like(self) -> GaussianProcess:
        """An unfitted model with this one's settings."""
        new = GaussianProcess(self.n_members, self.lengthscales, self.noise_ratios, self.seed)
        new.groups, new.joint_weights, new.shared_weights = self.groups, self.joint_weights, self.shared_weights
        return new

    def _fit(self, X, y, lengthscales, noise_ratios, joint_weights=None, shared_weights=None) -> None:
        X, y = check_xy(X, y)
        lo, hi = X.min(axis=0), X.max(axis=0)
        if self._shares:  # one scaling of a column for every block: the blocks are compared with one another
            G = len(self.groups)
            cols = slice(self.groups[0].start, self.groups[-1].stop)
            lo[cols] = np.tile(lo[cols].reshape(G, -1).min(axis=0), G)
            hi[cols] = np.tile(hi[cols].reshape(G, -1).max(axis=0), G)
        self.lo_ = lo
        self.scale_ = np.where(hi > lo, hi - lo, 1.0)
        Xs = self._scaled(X)
        n = len(y)
        blocks = BlockRows(Xs, self.groups) if self._shares else None
        if blocks is not None:
            Du = blocks.sqdist(blocks)  # between the distinct block settings
            parts = [Du[blocks.index[:, s][:, None], blocks.index[:, s][None, :]] for s in range(len(self.groups))]
        else:
            parts = [self._sqdist(Xs[:, c], Xs[:, c]) for c in self.groups] if self.groups is not None else []
        D = sum(parts) if parts else self._sqdist(Xs, Xs)
        # length scales relative to the typical distance between evaluated architectures (per group)
        self.typical_ = self._typical(D, n)
        self.group_typical_ = np.array([self._typical(P, n) for P in parts])
        if blocks is not None:
            self.group_typical_[:] = self.group_typical_.mean()  # one length scale: the shared part is a kernel
        shared = shared_weights or self.shared_weights
        best = None
        for rel in lengthscales:
            terms = self._block_terms(blocks, Du, blocks, rel) if blocks is not None else None  # once per length scale
            for w, b in itertools.product(joint_weights or self.joint_weights, shared):
                if w == 1.0 and b != shared[0]:
                    continue  # the joint kernel alone: the shared weight plays no part
                Kf = self._from_sqdist(D, parts, rel, w) if terms is None else self._combine(D, terms, rel, w, b)
                best = self._best_noise(Kf, y, noise_ratios, best, (rel, w, b))
        if best is None:
            raise ValueError("Gaussian process: no kernel setting gave a positive-definite matrix")
        _, (self.lengthscale_rel_, self.joint_weight_, self.shared_weight_), self.noise_ratio_, L, self.mean_, self.s2_ = best
        self.ell_ = self.lengthscale_rel_ * self.typical_
        self._lo32, self._scale32 = self.lo_.astype(np.float32), self.scale_.astype(np.float32)
        self._set_rows(X, Xs, L, y, {})

    @staticmethod
    def _best_noise(Kf: np.ndarray, y: np.ndarray, noise_ratios, best, setting: tuple):
        """The best of ``best`` (or None) and kernel ``Kf`` (``setting``: its length scale, joint and shared
        weight) with each noise ratio, by the marginal likelihood: ``(nll, setting, noise, L, mean, s2)``."""
        n = len(y)
        for g in noise_ratios:
            try:
                L = np.linalg.cholesky(Kf + (g + 1e-8) * np.eye(n))
            except np.linalg.LinAlgError:
                continue
            one = solve_triangular(L, np.ones(n), lower=True)
            ty = solve_triangular(L, y, lower=True)
            mu = float(one @ ty / (one @ one))  # generalised least-squares constant mean
            r = ty - mu * one
            s2 = max(float(r @ r) / n, 1e-12)  # closed-form signal variance
            nll = 0.5 * n * np.log(s2) + np.log(np.diag(L)).sum()
            if best is None or nll < best[0]:
                best = (nll, setting, g, L, mu, s2)
        return best

    def _set_rows(self, X: np.ndarray, Xs: np.ndarray, L: np.ndarray, y: np.ndarray, caches: dict) -> None:
        """The state a fit leaves (``mean_`` and ``s2_`` already set): weights, factor, rows, caches."""
        self._alpha = solve_triangular(L.T, solve_triangular(L, y - self.mean_, lower=True), lower=False)
        # the posterior mean at the training rows: mean + K_f alpha = y - (noise + jitter) alpha
        self._fitted_mean = y - (self.noise_ratio_ + 1e-8) * self._alpha
        # L^-1 once per fit, when first needed: prediction is then one matrix product (faster than a
        # triangular solve per call)
        self._Linv32 = None
        self._X32 = Xs.astype(np.float32)
        self._norms32 = None  # the training rows' squared norms, when first needed (see _train_norms)
        self._blocks32 = None  # the float32 rows read as blocks, when first needed (see _train_kernel)
        self._X, self._L, self._on = X, L, caches

    def can_extend(self, X) -> bool:
        """Whether :meth:`extend` can grow this model: ``X``'s first rows are exactly its training rows."""
        n0 = len(self._X)
        X = np.asarray(X)
        return X.ndim == 2 and len(X) >= n0 and X.shape[1] == self._X.shape[1] and np.array_equal(X[:n0], self._X)

    def _extended(self, X: np.ndarray, y: np.ndarray) -> GaussianProcess:
        n0 = len(self._X)
        new = GaussianProcess.__new__(GaussianProcess)
        new.__dict__.update(self.__dict__)
        Xs = self._scaled(X)
        old, add = Xs[:n0], Xs[n0:]
        K12 = self._kernel(old, add)
        K22 = self._kernel(add, add) + (self.noise_ratio_ + 1e-8) * np.eye(len(add))
        L21 = solve_triangular(self._L, K12, lower=True).T  # (k, n0)
        L = np.zeros((len(X), len(X)))
        L[:n0, :n0], L[n0:, :n0] = self._L, L21
        L[n0:, n0:] = np.linalg.cholesky(K22 - L21 @ L21.T)
        n = len(y)
        one = solve_triangular(L, np.ones(n), lower=True)
        ty = solve_triangular(L, y, lower=True)
        new.mean_ = float(one @ ty / (one @ one))
        r = ty - new.mean_ * one
        new.s2_ = max(float(r @ r) / n, 1e-12)
        new._set_rows(X, Xs, L, y, self._on)
        if self._Linv32 is not None:  # L^-1 grown by its new rows' block: O(k n^2) instead of O(n^3)
            L22inv = solve_triangular(L[n0:, n0:], np.eye(n - n0), lower=True)
            Linv = np.zeros((n, n), np.float32)
            Linv[:n0, :n0] = self._Linv32
            Linv[n0:, :n0] = -(L22inv @ L21).astype(np.float32) @ self._Linv32
            Linv[n0:, n0:] = L22inv
            new._Linv32 = Linv
        self._on = {}  # the caches now describe the new model's rows
        return new

    # ------------------------------------------------------------------ prediction
    def _scaled(self, X: np.ndarray) -> np.ndarray:
        return (np.asarray(X, dtype=np.float64) - self.lo_) / self.scale_

    @staticmethod
    def _sqdist(A: np.ndarray, B: np.ndarray, a2: np.ndarray | None = None) -> np.ndarray:
        """Squared distances between the rows of ``A`` and ``B``; ``a2``: ``A``'s squared row norms, when known."""
        d = ((A * A).sum(1) if a2 is None else a2)[:, None] + (B * B).sum(1)[None, :]
        ab = A @ B.T
        ab *= 2.0
        d -= ab
        return np.maximum(d, 0.0, out=d)

    def _train_norms(self, rows: slice) -> list[np.ndarray]:
        """Squared norms of the training rows ``rows`` (float32), per group (one entry without groups),
        computed once per model: every prediction measures its candidates against the same rows."""
        if self._norms32 is None:
            cols = self.groups if self.groups is not None else (slice(None),)
            self._norms32 = [(self._X32[:, c] * self._X32[:, c]).sum(1) for c in cols]
        return [a2[rows] for a2 in self._norms32]

    def _linv32(self) -> np.ndarray:
        if self._Linv32 is None:
            self._Linv32 = solve_triangular(self._L, np.eye(len(self._L)), lower=True).astype(np.float32)
        return self._Linv32

    @staticmethod
    def _room(c: dict, key: str, n: int) -> None:
        """Grow the buffer ``c[key]`` to hold ``n`` rows, with room for half as many again: rows are added a
        few at a time."""
        if n > len(c[key]):
            grown = np.empty((n + n // 2 + 8, c[key].shape[1]), c[key].dtype)
            grown[:len(c[key])] = c[key]
            c[key] = grown

    def _cached(self, pool: Pool) -> dict:
        """Cross-kernel ``Ks`` (n, m) with the pool, kept under the pool's key and brought up to this model's
        rows (``n``: the rows it holds)."""
        n = len(self._L)
        c = self._on.get(pool.key)
        if c is None:
            Ms = self._scaled32(pool.X)
            c = {"Ms": Ms, "Mb": self._pool_blocks(pool) if self.shared_weight_ > 0 else None, "n": 0,
                 "Ks": np.empty((0, len(Ms))), "nv": 0, "V": np.empty((0, len(Ms)), np.float32), "vv": None}
            self._on[pool.key] = c
        n0 = c["n"]
        if n0 < n:
            self._room(c, "Ks", n)
            c["Ks"][n0:n] = self._train_kernel(c["Ms"], slice(n0, None), c["Mb"])
            c["n"] = n
        return c

    def _cached_var(self, pool: Pool) -> dict:
        """:meth:`_cached` with the triangular solve ``V`` of the cross-kernel and ``V``'s squared column sums,
        computed only when a variance is asked for (a ranking on the mean alone skips the O(n^2 m) solve),
        and brought up to this model's rows by the new rows' block."""
        c = self._cached(pool)
        n, n0 = c["n"], c["nv"]
        if n0 < n:
            self._room(c, "V", n)
            Ks_new = c["Ks"][n0:n].astype(np.float32)  # the kernel was computed in float32
            if n0 == 0:
                V_new = self._linv32() @ Ks_new
            else:
                L21, L22 = self._L[n0:n, :n0], self._L[n0:n, n0:n]
                V_new = solve_triangular(L22, Ks_new - L21.astype(np.float32) @ c["V"][:n0], lower=True)
                V_new = V_new.astype(np.float32)
            c["V"][n0:n] = V_new
            sq = (V_new * V_new).sum(axis=0, dtype=np.float64)
            c["vv"], c["nv"] = (sq if n0 == 0 else c["vv"] + sq), n
        return c

    def _pool_blocks(self, pool: Pool) -> BlockRows:
        """A pool's rows read as blocks, scaled as this model scales them (the distinct settings are found once
        per pool: they do not depend on the fit)."""
        key = ("blocks", tuple((g.start, g.stop) for g in self.groups))
        if key not in pool.derived:
            pool.derived[key] = BlockRows(pool.X, self.groups)
        block = slice(self.groups[0].start, self.groups[0].stop)
        return pool.derived[key].scaled(self.lo_[block], self.scale_[block])

    @staticmethod
    def _typical(D: np.ndarray, n: int) -> float:
        """The median distance between distinct rows (1 when there is none or it is 0)."""
        t = float(np.sqrt(np.median(D[np.triu_indices(n, 1)]))) if n > 2 else 1.0
        return t if t > 0 else 1.0

    def _from_sqdist(self, D: np.ndarray, parts: list, rel: float, w: float) -> np.ndarray:
        """The kernel from squared distances: ``w`` times the joint squared exponential on ``D`` plus
        ``1 - w`` times the mean over groups of each group's squared exponential on its part (length scale
        ``rel`` times the typical distance, per group), in the dtype of the distances (``D`` is unused when
        ``w`` is 0)."""
        out = None
        if w > 0:
            out = D * D.dtype.type(-0.5 / (rel * self.typical_) ** 2)
            np.exp(out, out=out)
            if w < 1:
                out *= D.dtype.type(w)
        if w < 1:
            share = parts[0].dtype.type((1.0 - w) / len(parts))
            for P, t in zip(parts, self.group_typical_):
                term = P * P.dtype.type(-0.5 / (rel * t) ** 2)
                np.exp(term, out=term)
                term *= share
                if out is None:
                    out = term
                else:
                    out += term
        return out

    def _block_terms(self, a: BlockRows, Du: np.ndarray, b: BlockRows, rel: float, same: bool = True) -> tuple:
        """The squared exponential (length scale ``rel`` times the blocks' typical distance) of every block of
        ``a``'s rows against every block of ``b``'s, from ``Du``, the squared distances of their distinct
        settings: summed over the same positions (when ``same``) and over all pairs of positions."""
        Eu = Du * Du.dtype.type(-0.5 / (rel * self.group_typical_[0]) ** 2)
        np.exp(Eu, out=Eu)
        return (a.same_position(Eu, b) if same else None), a.every_pair(Eu, b)

    def _shared_kernel(self, a: BlockRows, b: BlockRows) -> np.ndarray:
        """The chosen kernel of alike blocks between rows read as blocks (:class:`BlockRows`)."""
        rel, w, bw = self.lengthscale_rel_, self.joint_weight_, self.shared_weight_
        Du = a.sqdist(b)
        D = a.same_position(Du, b) if w > 0 else None  # the joint distance: the positions' sum
        return self._combine(D, self._block_terms(a, Du, b, rel, same=bw < 1), rel, w, bw)

    def _train_kernel(self, M: np.ndarray, rows: slice = slice(None), blocks: BlockRows | None = None) -> np.ndarray:
        """The kernel between the training rows ``rows`` and scaled rows ``M`` (float32; ``blocks``: ``M`` read
        as blocks, when known). With a shared part the training rows are read as blocks once per model."""
        if self.shared_weight_ == 0:
            return self._kernel(self._X32[rows], M, self._train_norms(rows))
        if self._blocks32 is None:
            self._blocks32 = BlockRows(self._X32, self.groups)
        return self._shared_kernel(self._blocks32.rows(rows), blocks if blocks is not None else BlockRows(M, self.groups))

    def _combine(self, D: np.ndarray | None, terms: tuple, rel: float, w: float, b: float) -> np.ndarray:
        """The kernel of alike blocks: ``w`` times the joint squared exponential on ``D`` plus ``1 - w`` times
        the per-block part, ``(1 - b)`` of it position by position (``same``, unused at ``b = 1``) and
        ``b`` over all pairs of positions (``every``)."""
        same, every = terms
        G = len(self.groups)
        dt = every.dtype.type
        out = every * dt((1.0 - w) * b / G)
        if b < 1:
            out += same * dt((1.0 - w) * (1.0 - b) / G)
        if w > 0:
            joint = D * dt(-0.5 / (rel * self.typical_) ** 2)
            np.exp(joint, out=joint)
            out += joint * dt(w)
        return out

    def _kernel(self, A: np.ndarray, B: np.ndarray, a2: list | None = None) -> np.ndarray:
        """The chosen kernel between scaled rows ``A`` and ``B``, in their dtype; ``a2``: ``A``'s squared row
        norms per group (:meth:`_train_norms`), when known."""
        a2 = a2 if a2 is not None else [None] * (len(self.groups) if self.groups is not None else 1)
        if self.groups is None:
            return self._from_sqdist(self._sqdist(A, B, a2[0]), [], self.lengthscale_rel_, 1.0)
        if self.shared_weight_ > 0:
            return self._shared_kernel(BlockRows(A, self.groups), BlockRows(B, self.groups))
        parts = [self._sqdist(A[:, c], B[:, c], n) for c, n in zip(self.groups, a2)]
        D = sum(parts) if self.joint_weight_ > 0 else None  # the joint term's distances, when it has weight
        return self._from_sqdist(D, parts, self.lengthscale_rel_, self.joint_weight_)

    def predict_mean_on(self, pool: Pool, rows: np.ndarray | None = None) -> np.ndarray:
        c = self._cached(pool)
        mean = self.mean_ + self._alpha @ c["Ks"][: c["n"]]
        return mean if rows is None else mean[rows]

    def predict_members_on(self, pool: Pool, rows: np.ndarray | None = None) -> np.ndarray:
        mean = self.predict_mean_on(pool, rows)
        c = self._cached_var(pool)
        if c.get("prior") is None:
            c["prior"] = self._prior(c["Mb"], len(c["Ms"]))
        var = np.maximum(c["prior"] - c["vv"], 0.0) * self.s2_
        return self._members(mean, np.sqrt(var if rows is None else var[rows]))

    def _prior(self, blocks: BlockRows | None, m: int) -> np.ndarray:
        """Each row's kernel with itself, (m,): the prior variance over ``s2_``. 1 for every kernel but a shared
        part, which compares each block with every other block of the same row too: a row repeating one
        block setting has G times the shared part's share of prior variance, a row of G far-apart settings
        1 (``blocks``: the rows read as blocks, scaled, when the shared weight is above 0)."""
        if self.shared_weight_ == 0:
            return np.ones(m)
        w, b = self.joint_weight_, self.shared_weight_
        G = blocks.index.shape[1]
        scale = -0.5 / (self.lengthscale_rel_ * self.group_typical_[0]) ** 2
        every = np.full(m, float(G))  # a block against itself, at each position
        for s in range(G):
            for t in range(s + 1, G):
                d = blocks.unique[blocks.index[:, s]] - blocks.unique[blocks.index[:, t]]
                every += 2.0 * np.exp(scale * (d * d).sum(axis=1, dtype=np.float64))
        return w + (1.0 - w) * ((1.0 - b) + b * every / G)

    def _cross(self, X) -> tuple[np.ndarray, BlockRows | None]:
        """Kernel between the training rows and ``X``, (n, m), in float32 (candidate sets are large and
        one-hot, and the float32 rounding (~1e-7) is far below any difference the search acts on), and
        ``X``'s scaled rows read as blocks when the shared weight is above 0 (else None)."""
        M = self._scaled32(X)
        blocks = BlockRows(M, self.groups) if self.shared_weight_ > 0 else None
        return self._train_kernel(M, blocks=blocks), blocks

    def _scaled32(self, X) -> np.ndarray:
        """:meth:`_scaled` in float32 (one-hot columns, lo 0 and span 1, come out exactly as in float64)."""
        return (np.asarray(X, dtype=np.float32) - self._lo32) / self._scale32

    def _mean(self, Ks: np.ndarray) -> np.ndarray:
        return self.mean_ + Ks.T.astype(np.float64) @ self._alpha

    def predict_mean(self, X) -> np.ndarray:
        """The posterior mean alone (no variance: a fraction of the cost)."""
        return self._mean(self._cross(X)[0])

    def predict_mean_train(self, X) -> np.ndarray:
        """The posterior mean at the training rows, from the fit: ``O(n)`` instead of a kernel of every
        row with every other."""
        if len(X) != len(self._fitted_mean):
            raise ValueError(f"expected the {len(self._fitted_mean)} training rows, got {len(X)}")
        return self._fitted_mean.copy()

    def predict(self, X):
        Ks, blocks = self._cross(X)
        mean = self._mean(Ks)
        V = self._linv32() @ Ks
        var = np.maximum(self._prior(blocks, Ks.shape[1]) - (V * V).sum(axis=0, dtype=np.float64), 0.0) * self.s2_
        return mean, np.sqrt(var)

    def predict_members(self, X):
        return self._members(*self.predict(X))

    def _members(self, mean: np.ndarray, sd: np.ndarray) -> np.ndarray:
        half = self.n_members // 2
        z = np.random.default_rng(self.seed).standard_normal((half, len(mean)))
        z = np.vstack([z, -z] + ([np.zeros((1, len(mean)))] if self.n_members % 2 else []))  # odd: one at the mean
        return mean[None, :] + sd[None, :] * z
