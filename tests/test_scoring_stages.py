"""The exact front of K-stage networks equals brute force, and the stage scorer scores against it."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from stage_fixtures import cell_table

from hwnas.core.objectives import Objective
from hwnas.core.pareto import nondominated_mask
from hwnas.evaluators.stage_table import StageTableEvaluator
from hwnas.spaces import get_space
from hwnas.strategies.scoring_stages import StageScorer, exact_front


def brute_force(stage_terms):
    """Every combination summed (stages added left to right, as exact_front does), then its distinct front."""
    combos = list(itertools.product(*[range(len(t)) for t in stage_terms]))
    F = np.array([sum((stage_terms[s][i] for s, i in enumerate(c)), np.zeros(stage_terms[0].shape[1]))
                  for c in combos])
    return np.unique(F[nondominated_mask(F)], axis=0)


@pytest.mark.parametrize("stages,objectives,integer", [(2, 2, False), (3, 2, False), (3, 2, True), (2, 3, False),
                                                         (3, 3, True), (1, 2, False)])
def test_exact_front_equals_brute_force_on_30_cells(stages, objectives, integer):
    rng = np.random.default_rng(10 * stages + objectives)
    # a cost (sum) and a quality (mean: the per-cell term is value / K), each stage its own values
    terms = []
    for _ in range(stages):
        raw = rng.integers(0, 6, (30, objectives)).astype(float) if integer else rng.normal(size=(30, objectives))
        raw[:, -1] /= stages
        terms.append(raw)
    F, members = exact_front(terms)
    expected = brute_force(terms)
    np.testing.assert_allclose(np.unique(F, axis=0), expected, rtol=0, atol=1e-12)
    # each member combination gives its point
    again = sum(terms[s][members[:, s]] for s in range(stages))
    np.testing.assert_allclose(again, F, atol=1e-12)
    assert len(expected) < 30 ** stages  # the pruning matters: most combinations are dominated


def test_rows_with_a_nan_are_no_option():
    a = np.array([[0.0, 0.0], [np.nan, -5.0], [1.0, 1.0]])
    b = np.array([[1.0, -1.0], [-1.0, 1.0]])
    F, members = exact_front([a, b])
    assert np.isfinite(F).all()
    assert set(members[:, 0].tolist()) == {0}


@pytest.fixture(scope="module")
def two_stage():
    space = get_space("nb201_stages", stages=2)
    ev = StageTableEvaluator(cell_table(1), space, columns=["acc", "lat"],
                             stage_columns={"lat": ["onnx_latency_ms", "tm_latency_ms"]})
    return space, ev, StageScorer(ev, [Objective("acc", "max"), Objective("lat", "min")])


def test_no_network_dominates_the_exact_front(two_stage):
    space, ev, scorer = two_stage
    rng = np.random.default_rng(5)
    genes = space.sample_genes(rng, 20_000)
    F = scorer.objective_matrix(genes)
    front = scorer.true_front
    # every sampled network is weakly dominated by a front point
    covered = (front[None, :, :] <= F[:, None, :] + 1e-9).all(axis=2).any(axis=1)
    assert covered.all()


def test_scorer_scores_the_front_one_and_random_networks_less(two_stage):
    space, ev, scorer = two_stage
    archs = scorer.front_archs()
    assert len(archs) == len(scorer.true_front)
    assert scorer.ratio(archs) == pytest.approx(1.0, abs=1e-9)
    got = scorer.objective_matrix(space.genes_matrix(archs))
    np.testing.assert_allclose(got, scorer.true_front, atol=1e-9)
    rng = np.random.default_rng(6)
    sample = [space.format(space.from_genes(g)) for g in space.sample_genes(rng, 300)]
    r = scorer.ratios_at(sample, [50, 300])
    assert 0.0 < r[50] <= r[300] < 1.0
    assert scorer.ratio(sample + sample[:10]) == scorer.ratio(sample)


def test_reference_is_the_median_of_fixed_random_networks(two_stage):
    space, ev, scorer = two_stage
    genes = space.sample_genes(np.random.default_rng(0), 10_000)
    np.testing.assert_allclose(scorer.ref, np.median(scorer.objective_matrix(genes), axis=0))
    other = StageScorer(ev, scorer.objectives, seed=1)
    assert not np.allclose(other.ref, scorer.ref)
    assert StageScorer(ev, scorer.objectives).describe() == scorer.describe()
