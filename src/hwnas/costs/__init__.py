"""Hardware cost models behind one interface (see :class:`hwnas.costs.base.CostModel`)."""

from hwnas.costs.base import CostModel

__all__ = ["CostModel"]
