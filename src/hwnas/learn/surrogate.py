"""The surrogate contract: a regressor with members, updated as a search grows, predicting pools at once.

A search strategy needs, for thousands of candidates at once, a predicted
value *and* how sure the prediction is. Every surrogate here has ``K``
members (bootstrap resamples, posterior draws): :meth:`Surrogate.predict_members`
returns a ``(K, n)`` matrix, one row per member, all candidates predicted in
one vectorised call; the members' spread is the surrogate's uncertainty.

A search refits after every few evaluations on the same rows plus new ones:
:meth:`Surrogate.extend` takes the grown data and returns the updated model
(incrementally where the model can, else by refitting). Candidates that stay
fixed across refits (an enumerated space) are a :class:`Pool`: a model may
keep cross-terms with a pool between predictions, keyed by the pool's
``key`` (unique per pool object; a changed matrix is a new pool).

Surrogates are found by name in :data:`SURROGATES` (entry-point group
``hwnas.surrogates``): ``ridge`` (:class:`~hwnas.learn.ridge.BootstrapRidge`),
``gp`` (:class:`~hwnas.learn.gp.GaussianProcess`) and ``ridge_gp`` (:class:`~hwnas.learn.ridge_gp.RidgeResidualGP`).
"""

from __future__ import annotations

import itertools
from abc import ABC, abstractmethod

import numpy as np

from hwnas.core.errors import ConfigError
from hwnas.core.registry import Registry

_POOL_KEYS = itertools.count()

#: training rows beyond which a surrogate (and the default strategy's inner search) bounds the work of an
#: update: below, every update is cheap and done in full; beyond, a Gaussian process's cost grows with
#: every row (each candidate is compared with each row), so updates are made cheaper where they lose little
BOUNDED_ROWS = 300


class Pool:
    """A fixed candidate matrix (read-only) with a key that identifies it to every surrogate's cache."""

    def __init__(self, X: np.ndarray):
        X = np.array(X, copy=True)  # its own copy, read-only: a pool never changes; a new matrix is a new pool
        if X.ndim != 2:
            raise ValueError(f"a pool is a 2-d candidate matrix, got shape {X.shape}")
        X.flags.writeable = False
        self.X = X
        self.key = next(_POOL_KEYS)
        self.derived: dict = {}  # what a surrogate derives from the matrix alone (not from its fit), by name

    def __len__(self) -> int:
        return len(self.X)

    def rows(self, rows: np.ndarray | None) -> np.ndarray:
        """The candidate matrix, or its rows ``rows``."""
        return self.X if rows is None else self.X[rows]


class Surrogate(ABC):
    """A regressor with ``n_members`` members: fit on rows of features, predict every member at once."""

    n_members: int = 1

    @abstractmethod
    def fit(self, X: np.ndarray, y: np.ndarray) -> Surrogate:
        """Fit on features ``X`` (n, d) and finite targets ``y`` (n,); returns the fitted model."""

    @abstractmethod
    def predict_members(self, X: np.ndarray) -> np.ndarray:
        """Predictions of every member, shape (K, n)."""

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation over members, each shape (n,)."""
        P = self.predict_members(X)
        return P.mean(axis=0), P.std(axis=0)

    def predict_mean(self, X: np.ndarray) -> np.ndarray:
        """Mean over members, shape (n,) (a model that has it cheaper overrides this)."""
        return self.predict_members(X).mean(axis=0)

    def predict_mean_train(self, X: np.ndarray) -> np.ndarray:
        """:meth:`predict_mean` of the rows of the last fit (``X``, in order); a model that knows its
        predictions there without comparing every row with every other (a Gaussian process) overrides this."""
        return self.predict_mean(X)

    def extend(self, X: np.ndarray, y: np.ndarray) -> Surrogate:
        """The model fitted on grown data: ``X`` starts with the rows of the last fit, ``y`` holds every target
        (old rows' targets may change). The base refits this model with its settings; a model that can
        update incrementally overrides this."""
        return self.refit(X, y)

    def refit(self, X: np.ndarray, y: np.ndarray) -> Surrogate:
        """The model with this one's settings fitted on new inputs (e.g. another encoding of the rows)."""
        return self.fit(X, y)

    def predict_members_on(self, pool: Pool, rows: np.ndarray | None = None) -> np.ndarray:
        """:meth:`predict_members` of a pool's rows ``rows`` (all when None); a model may cache per pool."""
        return self.predict_members(pool.rows(rows))

    def predict_mean_on(self, pool: Pool, rows: np.ndarray | None = None) -> np.ndarray:
        """:meth:`predict_mean` of a pool's rows ``rows`` (all when None); a model may cache per pool."""
        return self.predict_mean(pool.rows(rows))


def check_xy(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``X`` (n, d) and ``y`` (n,) as float64, finite, at least 2 rows; else a ValueError saying which."""
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if X.ndim != 2 or y.ndim != 1 or len(X) != len(y):
        raise ValueError(f"expected X (n, d) and y (n,), got {X.shape} and {y.shape}")
    if len(y) < 2:
        raise ValueError(f"a surrogate needs at least 2 rows to fit, got {len(y)}")
    if not np.isfinite(y).all() or not np.isfinite(X).all():
        raise ValueError("surrogate training data holds non-finite values")
    return X, y


def check_members(n_members: int) -> int:
    if n_members < 1:
        raise ConfigError(f"n_members must be >= 1, got {n_members}")
    return int(n_members)


SURROGATES: Registry[Surrogate] = Registry("surrogate", "hwnas.surrogates", {
    "ridge": "hwnas.learn.ridge:BootstrapRidge",
    "gp": "hwnas.learn.gp:GaussianProcess",
    "ridge_gp": "hwnas.learn.ridge_gp:RidgeResidualGP",
}, base=Surrogate)


def make_surrogate(name: str, n_members: int = 16, seed: int = 0, **options) -> Surrogate:
    """A fresh surrogate by registry name with ``n_members`` members, ``seed`` and its own ``options``."""
    model = SURROGATES.create(name, n_members=n_members, seed=seed, **options)
    if not isinstance(model, Surrogate):
        raise TypeError(f"surrogate {name!r} must build a Surrogate, got {type(model).__name__}")
    return model
