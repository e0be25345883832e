"""The exact Pareto front of K-stage networks, and the benchmark score of a search on them.

A network of the ``nb201_stages`` space scored by the product evaluator
(:class:`~hwnas.evaluators.stage_table.StageTableEvaluator`) has, per objective, the sum (cost) or
mean (quality) of its K cells' values. Turned into minimisation, every objective is then a sum over
stages of a per-cell term (a mean is a sum times 1/K), so the front is exact without enumerating
15,625^K networks:

    Replacing one stage's cell by a cell that dominates it on that stage's terms changes every objective
    by a term <= 0 (< 0 in one), so a Pareto-optimal network has only cells Pareto-optimal for their stage;
    likewise a dominated combination of stages 1..j stays dominated under every completion, so pruning
    to the non-dominated set after combining each further stage (:func:`exact_front`) loses nothing.

The score (:class:`StageScorer`) follows ``benchdata/README.md``: the hypervolume of the non-dominated
set of the evaluated networks divided by that of the true front, every objective minimised, with the
reference point at the median network's metrics, estimated from 10,000 uniformly drawn K-stage
networks with a fixed seed (the median of 15,625^K networks cannot be read from a table).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from hwnas.core.errors import DataError
from hwnas.core.objectives import Objective
from hwnas.core.pareto import hypervolume, nondominated_mask

REFERENCE_SAMPLES = 10_000
REFERENCE_SEED = 0


def _front_of(F: np.ndarray, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct non-dominated rows of ``F`` and their ``index`` rows (first of equal rows)."""
    keep = nondominated_mask(F)
    F, index = F[keep], index[keep]
    _, first = np.unique(F, axis=0, return_index=True)
    first = np.sort(first)
    return F[first], index[first]


def exact_front(stage_terms: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The non-dominated objective vectors of every combination of one row per stage, summed, and one
    combination giving each.

    ``stage_terms[s]``: (cells, d) minimised per-cell terms of stage ``s`` (rows with a NaN are no
    option). Returns ``(F, members)``: F (m, d) the distinct non-dominated sums, members (m, K) the row
    of each stage making it. Stage fronts are combined one stage at a time, pruned after each.
    """
    if not stage_terms:
        raise ValueError("exact_front needs at least one stage")
    F = members = None
    for terms in stage_terms:
        terms = np.asarray(terms, dtype=float)
        finite = np.flatnonzero(np.isfinite(terms).all(axis=1))
        if len(finite) == 0:
            raise DataError("a stage has no cell with finite values in every objective")
        sF, sIdx = _front_of(terms[finite], finite[:, None])
        if F is None:
            F, members = sF, sIdx
            continue
        combined = (F[:, None, :] + sF[None, :, :]).reshape(-1, F.shape[1])
        idx = np.concatenate([np.repeat(members, len(sF), axis=0), np.tile(sIdx, (len(F), 1))], axis=1)
        F, members = _front_of(combined, idx)
    return F, members


class StageScorer:
    """Hypervolume ratio of sets of K-stage networks scored by a product evaluator, for fixed objectives.

    ``evaluator``: a :class:`~hwnas.evaluators.stage_table.StageTableEvaluator` holding every
    objective's metric. The true front is :func:`exact_front` of the stages' cell terms; the reference
    is the median of ``samples`` uniform networks drawn with ``seed``.
    """

    def __init__(self, evaluator, objectives: Sequence[Objective], samples: int = REFERENCE_SAMPLES,
                 seed: int = REFERENCE_SEED):
        if not objectives:
            raise DataError("scoring needs at least one objective")
        missing = [o.metric for o in objectives if o.metric not in evaluator.metrics]
        if missing:
            raise DataError(f"scoring: the evaluator has no metric {missing}; it has {list(evaluator.metrics)}")
        self.evaluator = evaluator
        self.space = evaluator.space
        self.objectives = list(objectives)
        self.samples, self.seed = int(samples), int(seed)
        K = evaluator.stages
        terms = []
        for s in range(K):
            cols = []
            for o in self.objectives:
                weight = 1.0 if evaluator.combination(o.metric) == "sum" else 1.0 / K
                cols.append(o.sign * weight * evaluator.values[o.metric][s])
            terms.append(np.stack(cols, axis=1))
        self.true_front, self.front_members = exact_front(terms)
        draws = self.space.sample_genes(np.random.default_rng(self.seed), self.samples)
        sampled = self.objective_matrix(draws)
        sampled = sampled[np.isfinite(sampled).all(axis=1)]
        if len(sampled) == 0:
            raise DataError("scoring: no sampled network has finite values in every objective")
        self.ref = np.median(sampled, axis=0)
        self.true_hv = hypervolume(self.true_front, self.ref)
        if self.true_hv <= 0:
            raise DataError("scoring: the true front dominates nothing below the median reference point")

    def objective_matrix(self, genes: np.ndarray) -> np.ndarray:
        """(n, d) minimised objectives of gene rows (NaN where a cell has no value)."""
        metrics = self.evaluator.evaluate_genes(genes)
        return np.stack([o.sign * metrics[o.metric] for o in self.objectives], axis=1)

    def front_archs(self) -> list[str]:
        """The text form of one network per point of the true front."""
        cell = self.space.cell
        every = cell.enumerate_genes(cell.size)
        return [self.space.format(self.space.from_genes(np.concatenate([every[c] for c in row])))
                for row in self.front_members]

    def ratio(self, archs: Iterable[str]) -> float:
        """Hypervolume ratio of the networks ``archs`` (text forms; order and repeats do not matter)."""
        archs = sorted(set(archs))
        if not archs:
            return 0.0
        return hypervolume(self.objective_matrix(self.space.genes_matrix(archs)), self.ref) / self.true_hv

    def ratios_at(self, archs: Sequence[str], checkpoints: Sequence[int]) -> dict[int, float]:
        """Ratio after the first N evaluations, for each N in ``checkpoints``."""
        return {int(n): self.ratio(archs[: int(n)]) for n in checkpoints}

    def describe(self) -> dict:
        """What the score is relative to: the reference point, the true front's size and hypervolume."""
        return {"reference": [float(v) for v in self.ref], "reference_samples": self.samples,
                "reference_seed": self.seed, "true_front_size": int(len(self.true_front)),
                "true_hypervolume": float(self.true_hv),
                "objectives": [str(o) for o in self.objectives]}
