"""Views of a space's architectures for predictors, with the generic defaults every choice space has.

A predictor reads gene rows through a *view*. Quality predictors (accuracy)
read ``space.features`` (the ``generic`` view) or a space's extra quality views
(:class:`~hwnas.spaces.protocols.QualityViews`). Cost predictors (latency,
energy) read *executed work*: what a runtime runs of the architecture. A space
that knows more than its canonical form says so through
:class:`~hwnas.spaces.protocols.ExecutedWorkViews`; any other choice space gets
the one-hot of its canonical genes, and rows with equal canonical genes share
one measurement.

The functions here are the one place that asks a space for a view, so the
strategy layer and the cost predictors never test a space's name.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hwnas.spaces.protocols import ExecutedWorkViews, QualityViews

#: the encoding every space has: ``space.features``
GENERIC = "generic"
#: prior groups a feature column may belong to (see :class:`hwnas.learn.regressor.AdditiveRegressor`)
GROUPS = ("op", "edge_op", "struct")
#: how a table's value relates to the row's own architecture: ``own`` (it was measured) or ``first``
#: (one measurement per measurement class, taken on the class's first-listed member)
REPRESENTATIVES = ("own", "first")
#: the executed-work view of a space without its own: the canonical architecture
GENERIC_EXECUTED = ("executed",)


@dataclass(frozen=True)
class FeatureBlock:
    """A feature matrix with the name and prior group of each column."""

    matrix: np.ndarray
    names: tuple[str, ...]
    groups: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.matrix.ndim != 2 or self.matrix.shape[1] != len(self.names) or len(self.names) != len(self.groups):
            raise ValueError("feature matrix, names and groups disagree in size")
        bad = [g for g in self.groups if g not in GROUPS]
        if bad:
            raise ValueError(f"unknown feature groups {sorted(set(bad))}; allowed {list(GROUPS)}")


def _rows(genes: np.ndarray) -> np.ndarray:
    return np.atleast_2d(np.asarray(genes, dtype=np.int64))


# ---------------------------------------------------------------------------------------------- quality
def quality_view_names(space) -> list[str]:
    """The views a quality predictor may read: ``generic`` first, then the space's own."""
    extra = list(space.quality_views) if isinstance(space, QualityViews) else []
    return [GENERIC, *extra]


def quality_matrix(space, name: str, genes: np.ndarray) -> np.ndarray:
    """Feature matrix (float64) of gene rows under quality view ``name``."""
    genes = _rows(genes)
    if name == GENERIC:
        return np.asarray(space.features(genes), dtype=np.float64)
    if isinstance(space, QualityViews) and name in space.quality_views:
        return np.asarray(space.quality_features(name, genes), dtype=np.float64)
    raise ValueError(f"quality view {name!r} unknown; allowed {quality_view_names(space)}")


# ---------------------------------------------------------------------------------------------- executed work
def has_executed_views(space) -> bool:
    """Whether the space knows its own executed-work views and measurement classes."""
    return isinstance(space, ExecutedWorkViews)


def executed_views(space) -> tuple[str, ...]:
    """The executed-work views of a space (the first is its default)."""
    return tuple(space.executed_views) if has_executed_views(space) else GENERIC_EXECUTED


def executed_work(space, genes: np.ndarray, view: str = "executed") -> FeatureBlock:
    """Executed-work features of gene rows under ``view`` (the space's own, else the canonical one-hot)."""
    genes = _rows(genes)
    if has_executed_views(space):
        return space.executed_work(genes, view)
    one_hot = space.one_hot(space.canonical_genes(genes)).astype(np.float64)
    names = tuple(f"{d.name}={c}" for d in space.dimensions for c in d.choices)
    return FeatureBlock(one_hot, names, ("edge_op",) * len(names))


def measurement_keys(space, genes: np.ndarray, view: str = "executed", representative: str = "own") -> list[str]:
    """One key per class of rows that share a measurement: the same executed graph under ``view``, or
    (``representative="first"``) the same measurement class."""
    genes = _rows(genes)
    if has_executed_views(space):
        return [str(int(k)) for k in space.measurement_keys(genes, view, representative)]
    return [",".join(map(str, row)) for row in space.canonical_genes(genes)]


def measurement_groups(space, genes: np.ndarray) -> np.ndarray:
    """An integer per row; rows with equal values share one measurement (cross-validation keeps them
    in one fold): the space's measurement classes, else its canonical architectures."""
    genes = _rows(genes)
    if has_executed_views(space):
        return space.measurement_classes(genes)
    canon = space.canonical_genes(genes)
    return np.unique(canon, axis=0, return_inverse=True)[1].reshape(-1)


def listed_representatives(space, catalog: np.ndarray) -> dict[int, int]:
    """For a table listing architectures in order: measurement class -> gene code of its first-listed
    member (classes with several distinct members only; empty for a space without measurement classes)."""
    if not has_executed_views(space):
        return {}
    return space.listed_representatives(_rows(catalog))


def apply_representatives(space, genes: np.ndarray, reps: dict[int, int]) -> np.ndarray:
    """Each gene row replaced by its class representative's genes (rows of unlisted classes stay)."""
    genes = _rows(genes)
    if not reps or not has_executed_views(space):
        return genes
    return space.apply_representatives(genes, reps)
