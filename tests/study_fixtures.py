"""Test doubles for the study loop: a seeded random-proposal strategy and evaluators that fail on purpose."""

from __future__ import annotations

import math

from hwnas.core.errors import EvaluationFailed
from hwnas.evaluators.base import Evaluator
from hwnas.strategies.base import Strategy


class ProbeStrategy(Strategy):
    """Proposes random architectures, optionally repeating told ones, and records what it was told."""

    name = "probe"

    def __init__(self, repeat_every: int = 0):
        self.repeat_every = repeat_every
        self.told_batches: list[list[str]] = []

    def ask(self, n):
        genes = self.space.sample_genes(self.rng, n)
        archs = [self.space.from_genes(g) for g in genes]
        if self.repeat_every and self.trials and len(self.trials) % self.repeat_every == 0:
            archs[0] = self.trials[0].arch
        return archs

    def tell(self, trials):
        super().tell(trials)
        self.told_batches.append([t.key for t in trials])


class FlakyEvaluator(Evaluator):
    """Wraps an evaluator; every k-th call returns NaN, raises EvaluationFailed or a plain exception."""

    def __init__(self, inner, every: int = 5, mode: str = "nan"):
        self.inner, self.every, self.mode, self.calls = inner, every, mode, 0
        self.metrics = inner.metrics

    def evaluate(self, arch):
        self.calls += 1
        out = self.inner.evaluate(arch)
        if self.calls % self.every == 0:
            if self.mode == "nan":
                out = {k: math.nan for k in out}
            elif self.mode == "failed":
                raise EvaluationFailed("device unreachable")
            else:
                raise RuntimeError("driver crashed")
        return out
