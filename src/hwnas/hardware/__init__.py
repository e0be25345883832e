"""Hardware cost models behind one interface (see base.CostModel)."""

from hwnas.hardware.base import CostEvaluator, CostModel, Workload
from hwnas.hardware.layers import Layer

__all__ = ["CostModel", "CostEvaluator", "Workload", "Layer"]
