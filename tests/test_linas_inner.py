"""The default strategy where it cannot enumerate: novelty by gene code, the inner search's candidates,
the per-batch encoding cache, and the wide-encoding ridge fit."""

from __future__ import annotations

import numpy as np
import pytest

from hwnas.core.objectives import Objective
from hwnas.evaluators.base import Evaluator
from hwnas.learn.ridge import BootstrapRidge
from hwnas.spaces import get_space
from hwnas.strategies import get_strategy
from hwnas.strategies.cost_views import GENERIC
from hwnas.strategies.linas.models import SHARED_WEIGHTS, Candidates, Encoded
from hwnas.strategies.random import fresh_genes, seen_codes
from hwnas.study import Study

OBJ = [Objective("acc", "max"), Objective("latency_ms", "min")]


class StageSum(Evaluator):
    """Per-stage random cell values: latency the sum over stages, accuracy the mean (as the K-stage benchmark)."""

    metrics = ("acc", "latency_ms")

    def __init__(self, space, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.space = space
        self.lat = rng.uniform(0.1, 1.0, (space.stages, space.width, 5))
        self.acc = rng.uniform(0.0, 2.0, (space.stages, space.width, 5))

    def evaluate(self, arch):
        g = self.space._split(self.space.canonical_genes(self.space.to_genes(arch)))[0]
        s, e = np.indices(g.shape)
        return {"acc": float(np.tanh(self.acc[s, e, g].sum(1)).mean()), "latency_ms": float(self.lat[s, e, g].sum())}


@pytest.fixture(scope="module")
def searched():
    """A linas search of 30 evaluations on 2-stage NB201 networks (not enumerable: the inner search runs)."""
    space = get_space("nb201_stages", stages=2)
    strategy = get_strategy("linas", n_init=10)
    study = Study(space, StageSum(space), OBJ, strategy, seed=0)
    study.optimize(30)
    assert strategy.pool is None  # the space is searched, not enumerated
    return space, strategy, study


def test_fresh_genes_compares_canonical_codes(searched):
    space, strategy, study = searched
    told = space.genes_matrix([t.arch for t in study.trials])
    assert seen_codes(strategy) == set(space.gene_codes(space.canonical_genes(told)).tolist())
    assert len(fresh_genes(strategy, told, set())) == 0  # every told architecture is known
    rng = np.random.default_rng(3)
    rows = space.sample_genes(rng, 50)
    doubled = np.vstack([rows, space.function_genes(rows), rows])  # repeats and equivalent forms
    taken: set = set()
    out = fresh_genes(strategy, doubled, taken)
    keys = [space.key(space.from_genes(g)) for g in out]
    assert len(set(keys)) == len(keys)  # no two rows are the same architecture
    assert not set(keys) & strategy.seen
    expected = {space.key(space.from_genes(g)) for g in doubled} - strategy.seen
    assert set(keys) == expected  # and nothing fresh was dropped
    assert taken == set(space.gene_codes(space.canonical_genes(out)).tolist())


def test_inner_search_candidates_are_unique_canonical_function_form_and_unseen(searched):
    space, strategy, study = searched
    trials = strategy._usable()
    genes = space.genes_matrix([t.arch for t in trials])
    strategy.models.fit(genes, {m: np.array([t.metrics[m] for t in trials]) for m in strategy._metrics})
    cand, pred = strategy.inner.candidates(strategy, trials, set(), strategy._predict, strategy._score)
    c = cand.genes
    assert len(c) > strategy.inner.population  # moves and several generations of children
    np.testing.assert_array_equal(space.canonical_genes(c), c)
    np.testing.assert_array_equal(space.canonical_genes(space.function_genes(c)), c)  # no operation feeding nothing
    codes = space.gene_codes(c).tolist()
    assert len(set(codes)) == len(codes)
    assert not set(codes) & seen_codes(strategy)
    # the predictions kept with the candidates are those of encoding and predicting them directly
    direct = strategy.models.predict(Candidates(Encoded(c, space.features(c))))
    for m in strategy._metrics:
        assert pred.latent[m].shape == (strategy.n_members, len(c))
        np.testing.assert_allclose(pred.latent[m], direct.latent[m], rtol=1e-9, atol=1e-9)
    # and its asks are fresh and stay in the function form
    asked = space.genes_matrix(strategy.ask(5))
    assert len(fresh_genes(strategy, asked, set())) == 5


def test_encoded_computes_each_view_once_and_as_directly(searched):
    space, strategy, _ = searched
    views = strategy.models.views
    rows = space.sample_genes(np.random.default_rng(1), 40)
    enc = Encoded(rows, space.features(rows))
    assert enc.matrix(GENERIC, views) is enc.X
    for name in views.names[1:] + views.quality_names[1:]:
        first = enc.matrix(name, views)
        np.testing.assert_array_equal(first, views.matrix(name, rows))
        assert enc.matrix(name, views) is first  # a second model reading the view shares the matrix


def test_ridge_on_wide_encodings_matches_the_normal_equations():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(25, 60)), rng.normal(size=25)
    model = BootstrapRidge(n_members=4, seed=5).fit(X, y)
    # the same resamples, solved in d x d form
    n, d = X.shape
    W = np.random.default_rng(5).multinomial(n, np.full(n, 1.0 / n), size=4).astype(float)
    for k in range(4):
        w = W[k]
        xm, ym = w @ X / w.sum(), w @ y / w.sum()
        Xc = X - xm
        coef = np.linalg.solve(Xc.T @ (w[:, None] * Xc) + model.alpha_ * np.eye(d), Xc.T @ (w * (y - ym)))
        np.testing.assert_allclose(model.coef_[k], coef, atol=1e-10)
        assert model.intercept_[k] == pytest.approx(ym - xm @ coef)


@pytest.mark.parametrize("name, options", [("mobilenet", {}), ("signal1d", {}),
                                           ("signal1d", {"max_conv": 2, "max_fc": 3, "fc_widths": [8, 32, 16]})])
def test_canonical_genes_vectorised_as_row_by_row(name, options):
    space = get_space(name, **options)
    rows = space.sample_genes(np.random.default_rng(2), 300)
    by_row = np.stack([space.to_genes(space.canonical(space.from_genes(g))) for g in rows])
    np.testing.assert_array_equal(space.canonical_genes(rows), by_row)
    assert (space.canonical_genes(rows) != rows).any()  # skipped blocks were reset


def test_searched_space_reads_the_reference_from_uniform_draws_not_the_candidates(searched):
    """Inner-search candidates crowd around the predicted front, so a quantile of theirs sits far better than the
    space's; where the space is searched, the reference is the quantile of the predicted uniform draws."""
    space, strategy, study = searched
    seen = []
    select = strategy.acquisition.select

    def spy(pred, mean, violation, front, ref, n):
        seen.append((mean.copy(), ref.copy()))
        return select(pred, mean, violation, front, ref, n)

    strategy.acquisition.select = spy
    try:
        strategy.ask(5)
    finally:
        strategy.acquisition.select = select
    (cand_mean, ref), = seen
    region = strategy._reference_region()
    # the region: the members' mean predicted for each uniformly drawn architecture, in minimised units
    direct = strategy.models.predict(Candidates(Encoded(strategy._reference.genes, strategy._reference.X)))
    lat = direct.mean("latency_ms")[0]
    np.testing.assert_allclose(np.sort(region[:, 1]), np.sort(lat), rtol=1e-9)
    expected = np.maximum(np.quantile(region, strategy.ref_quantile, axis=0), cand_mean.min(axis=0) + 1e-9)
    np.testing.assert_allclose(ref, expected)
    # and it is not the candidates' quantile: they are predicted faster than the space
    assert np.quantile(cand_mean[:, 1], strategy.ref_quantile) < ref[1]


def test_inner_search_copies_cells_across_stages(searched):
    """The stages are one space: block copies put a cell of a good network at another stage of it."""
    from hwnas.strategies.linas.candidates import InnerSearch

    space, strategy, _ = searched
    trials = strategy._usable()
    genes = space.genes_matrix([t.arch for t in trials])
    strategy.models.fit(genes, {m: np.array([t.metrics[m] for t in trials]) for m in strategy._metrics})

    def repeated(inner):
        c = inner.candidates(strategy, trials, set(), strategy._predict, strategy._score)[0].genes
        return int((c[:, :6] == c[:, 6:]).all(axis=1).sum())

    with_copies = repeated(InnerSearch(copies=3, copy_share=0.25))
    without = repeated(InnerSearch(copies=0, copy_share=0.0))
    assert with_copies >= 20 and with_copies > 4 * max(without, 1)


def test_inner_search_beyond_rows_full_runs_fewer_generations_and_continues_from_its_last_population(searched):
    """A prediction's cost grows with the evaluated rows, so beyond ``rows_full`` a call predicts fewer
    rows (generations x rows_full / n, at least ``min_generations``), starting also from the last call's
    final population."""
    from hwnas.strategies.linas.candidates import InnerSearch

    space, strategy, _ = searched
    trials = strategy._usable()
    genes = space.genes_matrix([t.arch for t in trials])
    strategy.models.fit(genes, {m: np.array([t.metrics[m] for t in trials]) for m in strategy._metrics})
    bounded = InnerSearch(generations=12, rows_full=10, min_generations=2)
    assert [bounded.generations_at(n) for n in (5, 10, 20, 40, 1000)] == [12, 12, 6, 3, 2]

    def call(inner):
        return inner.candidates(strategy, trials, set(), strategy._predict, strategy._score)[0].genes

    full = InnerSearch(generations=12, rows_full=len(trials))
    assert full.generations_at(len(trials)) == 12
    n_full = len(call(full))
    n_first = len(call(bounded))  # 30 evaluated rows: 4 generations of 12
    assert n_first < 0.7 * n_full
    last = bounded._last
    assert len(last) == bounded.population
    carried = fresh_genes(strategy, last, set())  # the last population's rows not evaluated
    assert len(carried) > 0
    second = set(space.gene_codes(call(bounded)).tolist())
    assert set(space.gene_codes(carried).tolist()) <= second  # each is a candidate again
    bounded.reset()  # a new search: nothing is carried over
    assert bounded._last is None


def test_quality_gaussian_process_of_a_product_space_has_a_kernel_per_stage():
    """Past ``quality_surrogate_after`` the quality model is a GP with one column group per stage of the
    encoding it reads; a cost model (ridge) takes no groups."""
    space = get_space("nb201_stages", stages=2)
    strategy = get_strategy("linas", n_init=10, quality_surrogate_after=20)
    Study(space, StageSum(space), OBJ, strategy, seed=1).optimize(30)
    gp = strategy.models.models["acc"]
    assert gp.groups is not None and len(gp.groups) == 2
    assert [(g.start, g.stop) for g in gp.groups] == [(0, gp._X.shape[1] // 2), (gp._X.shape[1] // 2, gp._X.shape[1])]
    # the stages are one space: the GP may also compare each stage's cell with the other stage's
    assert gp.shared_weights == SHARED_WEIGHTS and gp.shared_weight_ in SHARED_WEIGHTS
    assert not hasattr(strategy.models.models["latency_ms"], "groups")


def test_quality_model_that_changes_encoding_takes_that_encoding_s_groups(monkeypatch):
    space = get_space("nb201_stages", stages=2)
    strategy = get_strategy("linas", n_init=10, quality_surrogate_after=20)
    study = Study(space, StageSum(space), OBJ, strategy, seed=1)
    study.optimize(30)
    models = strategy.models
    genes = space.genes_matrix([t.arch for t in study.trials])
    values = {m: np.array([t.metrics[m] for t in study.trials]) for m in ("acc", "latency_ms")}
    for view in (GENERIC, *models.views.quality_names[1:], GENERIC):  # each encoding in turn
        monkeypatch.setattr(models, "_choose_view", lambda m, g, t, view=view: view if m == "acc" else GENERIC)
        models.fit(genes, values)
        gp = models.models["acc"]
        width = models.views.matrix(view, genes).shape[1] if view != GENERIC else space.features(genes).shape[1]
        assert (gp.groups[0].start, gp.groups[-1].stop) == (0, width)
        assert np.isfinite(gp.predict_mean(gp._X)).all()


def test_inner_search_starts_from_the_best_predicted_uniform_networks(monkeypatch):
    """In a product of one block space the inner search is handed the networks repeating one cell that
    the mean predictions rank best, ranked again only once UNIFORM_EVERY evaluations have joined."""
    import hwnas.strategies.linas.strategy as linas_strategy
    from hwnas.strategies.ranking import best_order

    monkeypatch.setattr(linas_strategy, "UNIFORM_EVERY", 10)
    space = get_space("nb201_stages", stages=2)
    strategy = get_strategy("linas", n_init=10)
    handed = []
    inner = strategy.inner.candidates

    def spy(*args, **kwargs):
        handed.append((len(args[1]), args[-1]))
        return inner(*args, **kwargs)

    monkeypatch.setattr(strategy.inner, "candidates", spy)
    Study(space, StageSum(space), OBJ, strategy, seed=2).optimize(35)  # asks at 10, 15, ..., 30 evaluations
    assert len(strategy._uniform.genes) > 1000
    for _n, starts in handed:
        assert starts.shape == (linas_strategy.UNIFORM_STARTS, len(space.cardinalities))
        assert (starts[:, :6] == starts[:, 6:]).all()  # one cell at both stages
    rankings = [n for i, (n, s) in enumerate(handed) if i == 0 or not np.array_equal(s, handed[i - 1][1])]
    assert rankings[0] == handed[0][0] and all(b - a >= 10 for a, b in zip(rankings, rankings[1:]))
    assert rankings == [10, 20, 30] and strategy._uniform_at == handed[-1][0] == 30
    F, V = strategy._mean_objectives(strategy._uniform)  # the last ask ranked them with the models it fitted
    np.testing.assert_array_equal(handed[-1][1], strategy._uniform.genes[best_order(F, V, 16)])
