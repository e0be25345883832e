"""What a space may know beyond its choices, declared as protocols.

Every :class:`~hwnas.spaces.base.ChoiceSpace` has genes, a canonical form
(``canonical`` / ``canonical_genes``: architectures that run the same graph),
a function form (``function_genes``) and a generic encoding (``features``).
A space that knows more declares it by implementing one of these protocols;
callers ask through :mod:`hwnas.spaces.views` or :func:`is_costable`, never by
the space's name.

* :class:`CostableSpace`: describes an architecture as a layer list
  (``workload``), so hardware cost models can cost it.
* :class:`QualityViews`: extra encodings for quality (accuracy) predictors.
* :class:`ExecutedWorkViews`: what a runtime executes of an architecture
  (executed-work features under named views) and which rows of a measurement
  table share one measurement (measurement classes and their first-listed
  representatives).
* :class:`BlockProduct`: the space is a product of smaller spaces (its blocks),
  so a strategy can vary one block at a time (:mod:`hwnas.spaces.product`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from hwnas.core.layers import Workload
    from hwnas.spaces.views import FeatureBlock


@runtime_checkable
class CostableSpace(Protocol):
    """A space whose architectures have a layer list: what cost models read."""

    def workload(self, arch: Any) -> Workload:
        """The layer list of ``arch`` (with its input shape and a module builder)."""


def is_costable(space: object) -> bool:
    """Whether ``space`` describes its architectures as layer lists (:class:`CostableSpace`)."""
    return isinstance(space, CostableSpace)


@runtime_checkable
class QualityViews(Protocol):
    """Encodings for quality predictors beyond ``space.features`` (the ``generic`` view)."""

    #: names of the extra views, in the order a choice among them prefers
    quality_views: tuple[str, ...]

    def quality_features(self, name: str, genes: np.ndarray) -> np.ndarray:
        """Feature matrix of gene rows under the extra view ``name``."""


@runtime_checkable
class ExecutedWorkViews(Protocol):
    """Executed-work features and the measurement protocol of tables, for cost predictors."""

    #: names of the views of what a runtime executes (the first is the default)
    executed_views: tuple[str, ...]

    def executed_work(self, genes: np.ndarray, view: str) -> FeatureBlock:
        """Features of the work a runtime executes for each gene row under ``view``."""

    def measurement_keys(self, genes: np.ndarray, view: str, representative: str) -> np.ndarray:
        """An integer per row; equal keys run the same graph under ``view`` (``representative="own"``)
        or belong to one measurement class (``"first"``)."""

    def measurement_classes(self, genes: np.ndarray) -> np.ndarray:
        """An integer per row; rows of one class are measured once by a table of this space."""

    def listed_representatives(self, catalog: np.ndarray) -> dict[int, int]:
        """For a table's rows in order: class -> gene code of its first-listed member (multi-member classes)."""

    def apply_representatives(self, genes: np.ndarray, reps: dict[int, int]) -> np.ndarray:
        """Gene rows replaced by their class representative's genes."""


@runtime_checkable
class BlockProduct(Protocol):
    """A space that is the product of smaller spaces: its genes are its blocks' gene rows side by side,
    in block order, and so are its features (``features``, and ``quality_features`` under each of its
    blocks' quality views)."""

    #: the blocks, in gene order (one space object may stand for several blocks)
    blocks: tuple[Any, ...]
