"""Cost views: the search's cost surrogate reads what the runtime executes and the table's protocol, from data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hwnas.core.objectives import Objective
from hwnas.evaluators.table import TableEvaluator
from hwnas.spaces.nb201 import NB201Space
from hwnas.spaces.nb201_views import apply_representatives, nb201_cost_features
from hwnas.strategies.cost_views import GENERIC, CostViews
from hwnas.strategies.linas import LinasStrategy
from hwnas.study import Study


def _protocol_table(seed: int = 0) -> tuple[NB201Space, np.ndarray, np.ndarray]:
    """All cells in a shuffled order; latency = an additive cost of the *first-listed* member of each class."""
    space = NB201Space()
    rng = np.random.default_rng(seed)
    catalog = rng.permutation(space.enumerate_genes())
    from hwnas.spaces.nb201_views import first_listed_representatives

    measured = apply_representatives(catalog, first_listed_representatives(catalog))
    X = nb201_cost_features(space, measured, "every_edge").matrix
    w = rng.uniform(0.1, 1.0, X.shape[1])
    return space, catalog, 1.0 + X @ w


def test_choice_finds_the_first_listed_protocol_only_with_a_catalog():
    space, catalog, lat = _protocol_table()
    rows = np.random.default_rng(1).choice(len(catalog), 120, replace=False)
    with_catalog = CostViews(space, catalog)
    assert "every_edge/first" in with_catalog.names
    best, scores = with_catalog.choose(catalog[rows], np.log(lat[rows]))
    assert best.endswith("/first"), scores
    assert scores[best] > scores[GENERIC] + 0.1
    # without the table's order the protocol cannot be told, and no '/first' view is offered
    without = CostViews(space)
    assert not any(n.endswith("/first") for n in without.names)
    best_own, _ = without.choose(catalog[rows], np.log(lat[rows]))
    assert best_own in without.names


def test_choice_keeps_generic_features_for_a_target_they_explain():
    space = NB201Space()
    genes = space.enumerate_genes()[::37]
    live = space.live_genes(genes)
    # an accuracy-like target: depends on the fully live cell only (edges that reach the output)
    y = (live == 3).sum(1) * 2.0 + (live == 2).sum(1) - (live == 4).sum(1) + 3.0 * (live[:, 3] == 1)
    views = CostViews(space, space.enumerate_genes())
    best, scores = views.choose(genes, y)
    assert best == GENERIC, scores


def test_too_few_rows_keep_generic():
    space, catalog, lat = _protocol_table()
    best, scores = CostViews(space, catalog).choose(catalog[:5], lat[:5])
    assert best == GENERIC and scores == {}


def test_linas_reads_the_catalog_from_a_table_evaluator_and_uses_a_cost_view():
    space, catalog, lat = _protocol_table(2)
    acc = 50 + 5.0 * (space.live_genes(catalog) == 3).sum(1)
    frame = pd.DataFrame({"arch": [space.format(space.from_genes(g)) for g in catalog], "acc": acc, "lat": lat})
    ev = TableEvaluator(frame, space, columns=["acc", "lat"])
    strategy = LinasStrategy(n_init=12)
    study = Study(space, ev, [Objective("acc", "max"), Objective("lat", "min")], strategy, seed=0)
    study.optimize(40)
    assert strategy._catalog is not None and len(strategy._catalog) == len(catalog)
    assert strategy.models.view["lat"].endswith("/first")
    # accuracy is not a cost: it never reads an executed-work view
    assert strategy.models.view["acc"] in strategy.models.views.quality_names
    # switching cost views off gives the plain generic surrogate
    off = LinasStrategy(n_init=12, cost_views=False)
    Study(space, ev, [Objective("acc", "max"), Objective("lat", "min")], off, seed=0).optimize(20)
    assert off.models.view == {}


def test_quality_metric_chooses_interactions_only_when_the_target_has_them():
    space = NB201Space()
    genes = space.enumerate_genes()[np.random.default_rng(3).choice(5**6, 200, replace=False)]
    live = space.live_genes(genes)
    views = CostViews(space)
    assert views.quality_names == [GENERIC, "generic+pairs"]
    additive = (live == 3).sum(1) * 1.0 + 0.5 * (live == 2).sum(1)
    best, scores = views.choose(genes, additive, names=views.quality_names)
    assert best == GENERIC, scores
    # a path effect: conv -> conv on the two hops 0->1->3 is worth more than the two convs apart
    joint = additive + 4.0 * (np.isin(live[:, 0], (2, 3)) & np.isin(live[:, 4], (2, 3)))
    best, scores = views.choose(genes, joint, names=views.quality_names)
    assert best == "generic+pairs", scores
    assert views.matrix("generic+pairs", genes).shape[1] > views.matrix(GENERIC, genes).shape[1]


def test_view_ridge_with_more_columns_than_rows_solves_the_row_system_with_the_same_answer():
    from hwnas.strategies.cost_views import _ridge_fit

    rng = np.random.default_rng(4)
    X, y = rng.random((40, 120)), rng.random(40)
    coef, icpt = _ridge_fit(X, y, 1.0)  # 120 columns > 40 rows: the 40 x 40 system
    xm = X.mean(axis=0)
    Xc = X - xm
    direct = np.linalg.solve(Xc.T @ Xc + np.eye(120), Xc.T @ (y - y.mean()))  # the 120 x 120 normal equations
    np.testing.assert_allclose(coef, direct, atol=1e-9)
    assert icpt == pytest.approx(y.mean() - xm @ direct)
    tall_coef, _ = _ridge_fit(X[:, :10], y, 1.0)  # fewer columns than rows: the normal equations
    Xt = X[:, :10] - X[:, :10].mean(axis=0)
    np.testing.assert_allclose(tall_coef, np.linalg.solve(Xt.T @ Xt + np.eye(10), Xt.T @ (y - y.mean())), atol=1e-12)
