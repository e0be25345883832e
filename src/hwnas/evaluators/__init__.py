"""Evaluators: quality (table, supernet) and cost, all arch -> named metrics."""

from hwnas.evaluators.base import CombinedEvaluator, Evaluator

__all__ = ["Evaluator", "CombinedEvaluator"]
