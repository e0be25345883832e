"""The default strategy with one surrogate replaced by the truth: what a perfect model of one metric would buy.

``linas_oracle_quality`` and ``linas_oracle_cost`` are ``linas`` whose quality (resp. cost) predictions are
the evaluator's true values for every candidate (members all equal, so no uncertainty), everything else
unchanged: the inner search, the other metric's surrogate, the batch selection. On a table benchmark the
truth is the evaluator's (``evaluate_genes``); the gap between ``linas`` and an oracle is what a better model
of that metric could gain, and the oracle's own figure is the ceiling of such a model with this search.

A benchmark diagnostic, not a strategy to use (it reads the evaluator, which strategies never do):
importing this module registers both names in :data:`hwnas.strategies.STRATEGIES`.
"""

from __future__ import annotations

import numpy as np

from hwnas.strategies import STRATEGIES
from hwnas.strategies.linas.models import Candidates, Encoded, MetricModels, Predictions
from hwnas.strategies.linas.strategy import LinasStrategy


class OracleModels(MetricModels):
    """Metric models whose metrics in ``truth`` are answered by ``truth(genes)`` in the surrogates' target space."""

    truth: dict

    def _true(self, metric: str, genes: np.ndarray) -> np.ndarray:
        v = np.asarray(self.truth[metric](genes), dtype=float)
        warp = self.warps[metric]
        if warp == "log":
            return np.log(v)
        return warp.transform(v) if warp is not None else v

    def predict(self, cand: Candidates) -> Predictions:
        pred = super().predict(cand)
        for m in self.truth:
            pred.latent[m] = np.repeat(self._true(m, cand.genes)[None], self.n_members, axis=0)
        return pred

    def predict_mean_train(self, metric: str) -> np.ndarray:
        if metric in self.truth:
            return self._true(metric, self.fit_genes)
        return super().predict_mean_train(metric)

    def predict_mean(self, metric: str, encoded: Encoded) -> np.ndarray:
        if metric in self.truth:
            return self._true(metric, encoded.genes)
        return super().predict_mean(metric, encoded)


class OracleLinas(LinasStrategy):
    """``linas`` told the truth of its quality metrics (``which="quality"``) or its cost metrics (``"cost"``)."""

    which = "quality"

    def attach(self, evaluator) -> None:
        super().attach(evaluator)
        self._evaluate_genes = evaluator.evaluate_genes

    def setup(self, space, objectives, constraints=(), seed: int = 0) -> None:
        super().setup(space, objectives, constraints, seed)
        models = self.models
        metrics = models.qualities if self.which == "quality" else models.costs
        models.__class__ = OracleModels
        models.truth = {m: (lambda genes, m=m: self._evaluate_genes(genes)[m]) for m in metrics}


@STRATEGIES.register("linas_oracle_quality")
class QualityOracle(OracleLinas):
    name = "linas_oracle_quality"
    which = "quality"


@STRATEGIES.register("linas_oracle_cost")
class CostOracle(OracleLinas):
    name = "linas_oracle_cost"
    which = "cost"
