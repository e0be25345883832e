"""Search strategies: registry, fresh proposals, budget, failures, constraints, determinism, and quality."""

from __future__ import annotations

import numpy as np
import pytest

from hwnas.core.errors import ConfigError, EvaluationFailed
from hwnas.core.objectives import Constraint, Objective
from hwnas.core.pareto import hypervolume, nondominated_mask
from hwnas.evaluators.base import Evaluator
from hwnas.spaces.base import ChoiceSpace, Dimension
from hwnas.strategies import DEFAULT_STRATEGY, STRATEGIES, get_strategy
from hwnas.strategies.base import Strategy
from hwnas.strategies.random import RandomSearch
from hwnas.study import Study

ALL = ["random", "evolution", "nsga2", "linas"]


def make_space(dims: int = 5, choices: int = 4) -> ChoiceSpace:
    return ChoiceSpace([Dimension(f"d{i}", tuple(range(choices))) for i in range(dims)])


class Synthetic(Evaluator):
    """A trade-off with interactions: expensive choices raise quality with diminishing returns.

    ``fail_every``: evaluations whose gene sum is divisible by it fail (recorded, search goes on).
    """

    metrics = ("acc", "cost", "size")

    def __init__(self, space: ChoiceSpace, seed: int = 0, fail_every: int | None = None):
        rng = np.random.default_rng(seed)
        d, c = len(space.cardinalities), int(space.cardinalities.max())
        self.space = space
        self.cost = rng.uniform(0.2, 2.0, (d, c))
        self.gain = self.cost * rng.uniform(0.5, 1.5, (d, c))
        self.pair = rng.normal(0, 0.4, (d, c))
        self.fail_every = fail_every

    def values(self, genes: np.ndarray) -> np.ndarray:
        genes = np.atleast_2d(genes)
        rows = np.arange(genes.shape[1])
        g = self.gain[rows, genes].sum(1) + (self.pair[rows, genes] * np.roll(self.pair[rows, genes], 1, axis=1)).sum(1)
        acc = 100 * (1 - np.exp(-np.maximum(g, 0) / 6))
        cost = self.cost[rows, genes].sum(1)
        size = (genes ** 2).sum(1).astype(float)
        return np.stack([acc, cost, size], axis=1)

    def evaluate(self, arch):
        genes = self.space.to_genes(arch)
        if self.fail_every and int(genes.sum()) % self.fail_every == 0:
            raise EvaluationFailed("synthetic failure")
        acc, cost, size = self.values(genes)[0]
        return {"acc": float(acc), "cost": float(cost), "size": float(size)}


OBJ2 = [Objective("acc", "max"), Objective("cost", "min")]


def hv_ratio(ev: Synthetic, trials, objectives=OBJ2) -> float:
    """HV ratio of the evaluated set to the true front of the whole space (median reference)."""
    cols = [ev.metrics.index(o.metric) for o in objectives]
    signs = np.array([o.sign for o in objectives])
    all_F = ev.values(ev.space.enumerate_genes())[:, cols] * signs
    ref = np.median(all_F, axis=0)
    true = hypervolume(all_F[nondominated_mask(all_F)], ref)
    F = np.array([t.values(objectives) for t in trials if t.ok])
    return hypervolume(F, ref) / true


def run(name: str, space, ev, budget: int, seed: int = 0, objectives=OBJ2, constraints=(), **options) -> Study:
    study = Study(space, ev, objectives, get_strategy(name, **options), constraints=constraints, seed=seed)
    study.optimize(budget)
    return study


# ---------------------------------------------------------------------------- registry
def test_registry_lists_and_builds_every_strategy():
    assert set(ALL) <= set(STRATEGIES.available())
    assert DEFAULT_STRATEGY in STRATEGIES.available()
    for name in ALL:
        s = get_strategy(name)
        assert isinstance(s, Strategy) and s.name == name


def test_registry_errors_name_the_choices():
    with pytest.raises(ConfigError, match="nope.*random"):
        get_strategy("nope")
    with pytest.raises(ConfigError, match="linas"):
        get_strategy("linas", no_such_option=1)
    with pytest.raises(ConfigError, match="unknown option.*'surrogate'"):
        get_strategy("linas", surrogate="ridge")


def test_register_custom_strategy():
    class Mine(RandomSearch):
        name = "mine"

    STRATEGIES.register("mine", Mine)
    assert "mine" in STRATEGIES.available()
    assert isinstance(get_strategy("mine"), Mine)
    with pytest.raises(TypeError):
        STRATEGIES.register("bad", dict)


# ---------------------------------------------------------------------------- contract
@pytest.mark.parametrize("name", ALL)
def test_never_proposes_seen_and_respects_budget(name):
    space = make_space()  # 1,024 members: repeats would be likely if a strategy did not avoid them
    ev = Synthetic(space)
    study = run(name, space, ev, budget=60, seed=1)
    keys = [t.key for t in study.trials]
    assert len(keys) == 60 and len(set(keys)) == 60
    assert study.served_from_cache == 0, f"{name} proposed an architecture it had already been told"


@pytest.mark.parametrize("name", ALL)
def test_deterministic_per_seed(name):
    space = make_space()
    ev = Synthetic(space)
    a = [t.key for t in run(name, space, ev, budget=40, seed=3).trials]
    b = [t.key for t in run(name, space, ev, budget=40, seed=3).trials]
    c = [t.key for t in run(name, space, ev, budget=40, seed=4).trials]
    assert a == b
    assert a != c


@pytest.mark.parametrize("name", ALL)
def test_failed_trials_are_handled(name):
    space = make_space()
    ev = Synthetic(space, fail_every=4)  # about a quarter of the space fails
    study = run(name, space, ev, budget=50, seed=0)
    states = [t.state for t in study.trials]
    assert len(study.trials) == 50 and "failed" in states and "complete" in states
    assert len({t.key for t in study.trials}) == 50


@pytest.mark.parametrize("name", ALL)
def test_ask_returns_valid_archs_of_the_space(name):
    space = make_space()
    s = get_strategy(name)
    s.setup(space, OBJ2, seed=0)
    archs = s.ask(7)
    assert 1 <= len(archs) <= 7
    for a in archs:
        assert space.validate(a) == a


@pytest.mark.parametrize("name", ["evolution", "nsga2", "linas"])
def test_three_objectives(name):
    space = make_space()
    ev = Synthetic(space)
    objectives = [Objective("acc", "max"), Objective("cost", "min"), Objective("size", "min")]
    study = run(name, space, ev, budget=45, seed=0, objectives=objectives)
    assert len({t.key for t in study.trials}) == 45
    assert study.pareto_front()


def test_constraints_steer_linas_to_feasible_architectures():
    space = make_space()
    ev = Synthetic(space)
    costs = ev.values(space.enumerate_genes())[:, 1]
    bound = float(np.quantile(costs, 0.25))  # a quarter of the space is feasible
    con = [Constraint("cost", "<=", bound)]
    feasible = {}
    for name in ("random", "linas"):
        fr = []
        for seed in range(2):
            study = run(name, space, ev, budget=50, seed=seed, constraints=con)
            fr.append(np.mean([t.feasible(con) for t in study.trials[20:]]))
            assert all(t.feasible(con) for t in study.pareto_front())
        feasible[name] = np.mean(fr)
    assert feasible["linas"] > feasible["random"] + 0.3, feasible


# ---------------------------------------------------------------------------- quality
# the defaults, and linas with the EHVI reference point at the candidates' median
@pytest.mark.parametrize("options", [{}, {"ref_quantile": 0.5}], ids=["defaults", "median-reference"])
def test_default_beats_random_on_a_synthetic_problem(options):
    space = make_space(5, 5)
    ev = Synthetic(space, seed=2)
    scores = {name: [hv_ratio(ev, run(name, space, ev, budget=60, seed=s,
                                      **(options if name == DEFAULT_STRATEGY else {})).trials) for s in range(3)]
              for name in (DEFAULT_STRATEGY, "random")}
    assert np.median(scores[DEFAULT_STRATEGY]) > np.median(scores["random"]) + 0.1, scores
    assert min(scores[DEFAULT_STRATEGY]) > max(scores["random"]), scores


def test_linas_inner_evolution_on_a_space_too_big_to_enumerate():
    space = make_space(14, 4)  # 268 million members: the candidate set comes from the inner NSGA-II
    assert space.enumerate_genes(100_000) is None
    from hwnas.strategies.linas.candidates import InnerSearch

    ev = Synthetic(space, seed=1)
    best = {}
    for name in ("linas", "random"):
        strategy = get_strategy(name)
        if name == "linas":
            strategy.inner = InnerSearch(population=60, generations=8)  # a smaller inner run than the default
        study = Study(space, ev, OBJ2, strategy, seed=0)
        study.optimize(60)
        assert name != "linas" or strategy.pool is None
        assert len({t.key for t in study.trials}) == 60
        F = np.array([t.values(OBJ2) for t in study.trials[20:]])
        best[name] = F
    # after the initial design, the surrogate-guided proposals are better on both objectives on average
    assert best["linas"][:, 0].mean() < best["random"][:, 0].mean()
    assert best["linas"][:, 1].mean() < best["random"][:, 1].mean() + 1.0
    l_front = best["linas"][nondominated_mask(best["linas"])]
    ref = np.max(np.vstack([best["linas"], best["random"]]), axis=0)
    assert hypervolume(l_front, ref) > hypervolume(best["random"][nondominated_mask(best["random"])], ref)


# ---------------------------------------------------------------------------- redundant cells
class CellCost(Evaluator):
    """NB201 stand-in: quality from the cell's function (live edges), cost from what it executes."""

    metrics = ("acc", "cost")

    def __init__(self, space):
        self.space = space
        rng = np.random.default_rng(0)
        self.gain = rng.uniform(0, 3, (6, 5))
        self.gain[:, 0] = 0.0  # "none" adds nothing
        self.price = np.array([0.0, 0.1, 1.0, 3.0, 0.5])  # none, skip, 1x1, 3x3, pool

    def evaluate(self, arch):
        g = self.space.to_genes(arch)[None]
        live, run = self.space.function_genes(g)[0], self.space.canonical_genes(g)[0]
        return {"acc": float(self.gain[np.arange(6), live].sum()), "cost": float(self.price[run].sum())}


@pytest.mark.parametrize("prune", [True, False])
def test_linas_skips_cells_that_run_code_feeding_nothing(prune):
    """A cell that executes an edge whose result never reaches the output computes the same function as
    the cell without that edge, at more cost: dominated by construction, so linas never proposes it."""
    from hwnas.spaces import get_space

    space = get_space("nb201")
    study = run("linas", space, CellCost(space), budget=60, seed=0, prune_redundant=prune)
    genes = space.genes_matrix([t.arch for t in study.trials])
    redundant = ~(space.function_genes(genes) == space.canonical_genes(genes)).all(axis=1)
    if prune:
        assert redundant.sum() == 0
    else:  # the check above can fail: without pruning such cells are proposed
        assert redundant.sum() > 0


# ---------------------------------------------------------------------------- a table of part of the space
def partial_nb201_table(n_rows: int, seed: int = 0):
    """A measurement table over ``n_rows`` random NB201 cells (quality from the function, cost from what runs)."""
    import pandas as pd

    from hwnas.spaces import get_space

    space = get_space("nb201")
    model = CellCost(space)
    genes = space.enumerate_genes()[np.random.default_rng(seed).choice(5**6, n_rows, replace=False)]
    rows = [model.evaluate(space.from_genes(g)) | {"arch": space.format(space.from_genes(g))} for g in genes]
    return space, pd.DataFrame(rows)


@pytest.mark.parametrize("name", ALL)
def test_strategies_propose_only_architectures_the_table_holds(name):
    """A user's table rarely covers the whole space: every proposal must be one of its rows (an
    architecture it does not hold would fail and waste the budget)."""
    from hwnas.evaluators.table import TableEvaluator

    space, frame = partial_nb201_table(400)
    ev = TableEvaluator(frame, space, columns=["acc", "cost"])
    study = run(name, space, ev, budget=80, seed=1)
    assert len(study.trials) == 80
    assert all(t.ok for t in study.trials), [t.error for t in study.trials if not t.ok][:3]
    held = {space.key(a) for a in frame.arch}
    assert {t.key for t in study.trials} <= held


def test_linas_keeps_a_redundant_row_when_the_table_lacks_its_cheaper_twin():
    import pandas as pd

    from hwnas.evaluators.table import TableEvaluator
    from hwnas.spaces import get_space

    space = get_space("nb201")
    dead = "|none~0|+|none~0|none~1|+|nor_conv_3x3~0|nor_conv_3x3~1|none~2|"  # 1->3 runs on zeros
    twin = "|none~0|+|none~0|none~1|+|nor_conv_3x3~0|none~1|none~2|"
    sample = space.sample_genes(np.random.default_rng(0), 60)
    sample = sample[(space.function_genes(sample) == space.canonical_genes(sample)).all(axis=1)]  # none redundant
    others = [space.format(space.from_genes(g)) for g in sample]
    others = [a for a in others if space.key(a) not in (space.key(dead), space.key(twin))]
    model = CellCost(space)
    for rows, expect_dead in (([dead, *others], True), ([dead, twin, *others], False)):
        frame = pd.DataFrame([model.evaluate(space.parse(a)) | {"arch": a} for a in rows])
        strategy = get_strategy("linas")
        strategy.attach(TableEvaluator(frame, space, columns=["acc", "cost"]))
        strategy.setup(space, OBJ2, seed=0)
        pool = {space.format(space.from_genes(g)) for g in strategy.pool.genes}
        assert (space.key(dead) in pool) == expect_dead
        assert len(pool) == len({space.key(a) for a in rows}) - (0 if expect_dead else 1)


def test_quality_reference_recovers_the_space_median_from_shrunk_predictions():
    """A surrogate shrinks towards the mean of what was evaluated; once a search has homed in on good
    architectures that mean is good, so a quantile of the *predicted* accuracies lies in the good region.
    linas reads the observed values at the median of the predicted *order* instead, which recovers the
    space's median (the benchmark's reference) whenever the order is right, however shrunk the values."""
    from hwnas.core.trial import COMPLETE, Trial

    space = make_space(5, 5)
    ev = Synthetic(space, seed=2)
    genes = space.enumerate_genes()
    acc = ev.values(genes)[:, 0]
    rng = np.random.default_rng(0)
    rows = np.r_[rng.choice(len(genes), 12, replace=False), rng.choice(np.argsort(-acc)[:150], 80, replace=False)]
    seen_mean = acc[rows].mean()

    from hwnas.learn.surrogate import Surrogate

    class Shrunk(Surrogate):  # the right order, values pulled three quarters of the way to what was evaluated
        def fit(self, X, y):
            return self

        def predict_members(self, X):
            g = np.asarray(X).reshape(len(X), 5, 5).argmax(axis=2)
            return (seen_mean + 0.25 * (ev.values(g)[:, 0] - seen_mean))[None]

        def predict_mean(self, X):
            return self.predict_members(X)[0]

    s = get_strategy("linas")
    s.setup(space, OBJ2, seed=0)
    s.tell([Trial(k, space.key(space.from_genes(genes[r])), space.from_genes(genes[r]), COMPLETE,
                  {"acc": acc[r], "cost": 1.0}) for k, r in enumerate(rows)])
    s.models.models, s.models.warps = {"acc": Shrunk()}, {"acc": None}
    trials = s._usable()
    g = space.genes_matrix([t.arch for t in trials])
    s.models._train = {"acc": space.one_hot(g)}  # the rows of the (stand-in) fit
    estimate = -s._space_median("acc", -np.array([t.metrics["acc"] for t in trials]))
    predicted = np.median(Shrunk().predict_members(space.one_hot(genes))[0])
    true = np.median(acc)
    iqr = np.subtract(*np.percentile(acc, [75, 25]))
    assert abs(estimate - true) < 0.05 * iqr, (estimate, true, predicted)
    assert abs(predicted - true) > 0.3 * iqr, (estimate, true, predicted)  # the drift the estimate corrects


def test_quality_reference_switches_only_after_its_threshold():
    space = make_space(5, 5)
    ev = Synthetic(space, seed=2)
    keys = {q: [t.key for t in run("linas", space, ev, budget=60, seed=3, quality_ref=q, quality_ref_after=40).trials]
            for q in ("ranked", "predicted")}
    assert keys["ranked"][:40] == keys["predicted"][:40]
    with pytest.raises(ConfigError, match="quality_ref"):
        get_strategy("linas", quality_ref="median")


def test_linas_quality_surrogate_models_only_the_maximised_objectives():
    from hwnas.learn.gp import GaussianProcess
    from hwnas.learn.ridge import BootstrapRidge

    space = make_space(5, 5)
    ev = Synthetic(space, seed=2)
    studies = [run("linas", space, ev, budget=60, seed=s, quality_surrogate="gp", quality_surrogate_after=0)
               for s in (1, 2, 3)]
    models = studies[0].strategy.models.models
    assert isinstance(models["acc"], GaussianProcess) and isinstance(models["cost"], BootstrapRidge)
    searched = np.median([hv_ratio(ev, st.trials) for st in studies])
    sampled = np.median([hv_ratio(ev, run("random", space, ev, budget=60, seed=s).trials) for s in (1, 2, 3)])
    assert searched > sampled + 0.2, (searched, sampled)
    with pytest.raises(ConfigError, match="quality_surrogate 'svm'.*ridge"):
        get_strategy("linas", quality_surrogate="svm")


def test_linas_fingerprint_lists_every_setting():
    """The stored options name every setting, so a study resumed with another one is refused."""
    assert get_strategy("linas", quality_surrogate=None).options()["quality_surrogate"] is None
    opts = get_strategy("linas").options()
    assert (opts["quality_surrogate"], opts["quality_surrogate_after"]) == ("gp", 75)  # the defaults
    assert (opts["cost_surrogate"], opts["cost_surrogate_after"]) == ("ridge_gp", 100)
    assert opts["cost_warp"] == "none"


@pytest.mark.parametrize("role, metric, kind, after", [("quality", "acc", "gp", 30),
                                                       ("cost", "cost", "ridge_gp", 25)])
def test_linas_surrogate_switches_in_only_after_its_threshold(role, metric, kind, after):
    """A metric's model is the ridge until ``<role>_surrogate_after`` evaluations, then ``<role>_surrogate``:
    the proposals before the switch are the same as with the ridge throughout."""
    from hwnas.learn.ridge import BootstrapRidge
    from hwnas.learn.surrogate import SURROGATES

    space = make_space(5, 5)
    ev = Synthetic(space, seed=2)
    plain = run("linas", space, ev, budget=after + 15, seed=3, **{f"{role}_surrogate": None})
    late = run("linas", space, ev, budget=after + 15, seed=3,
               **{f"{role}_surrogate": kind, f"{role}_surrogate_after": after})
    keys = [t.key for t in plain.trials], [t.key for t in late.trials]
    assert keys[0][:after] == keys[1][:after] and keys[0] != keys[1]
    assert isinstance(late.strategy.models.models[metric], SURROGATES.get(kind))
    assert isinstance(plain.strategy.models.models[metric], BootstrapRidge)
    assert late.strategy.options()[f"{role}_surrogate_after"] == after
    with pytest.raises(ConfigError, match=f"{role}_surrogate 'svm'.*ridge"):
        get_strategy("linas", **{f"{role}_surrogate": "svm"})
    with pytest.raises(ConfigError, match=f"{role}_surrogate_after must be >= 0"):
        get_strategy("linas", **{f"{role}_surrogate_after": -1})


def test_linas_gaussian_process_rechooses_its_kernel_only_when_the_data_grew_by_half(monkeypatch):
    from hwnas.learn.gp import GaussianProcess

    extended, chosen = [], []
    extend, fit = GaussianProcess._extended, GaussianProcess.fit
    monkeypatch.setattr(GaussianProcess, "_extended", lambda self, X, y: extended.append(len(X)) or extend(self, X, y))
    monkeypatch.setattr(GaussianProcess, "fit", lambda self, X, y: chosen.append(len(X)) or fit(self, X, y))
    space = make_space(5, 5)
    ev = Synthetic(space, seed=2)
    st = run("linas", space, ev, budget=40, seed=3, quality_surrogate="gp", quality_surrogate_after=0).strategy
    gp = st.models.models["acc"]
    assert isinstance(gp, GaussianProcess) and gp.chosen_at_ == chosen[-1] <= 40
    # the grid again only once the rows grew by half; in between the model was extended
    assert all(b >= 1.5 * a for a, b in zip(chosen, chosen[1:])), chosen
    assert extended and extended[-1] == len(gp._X) > gp.chosen_at_ and gp._on
    # the pool's predictions kept across batches agree with predicting the pool afresh
    cand = st.pool.candidates()
    pool = cand.source.pool(st.models.current_view("acc"), st.models.views)
    np.testing.assert_allclose(gp.predict_members_on(pool, cand.rows), gp.predict_members(pool.X[cand.rows]),
                               atol=1e-4)


def test_linas_fits_an_additive_cost_in_its_own_units_with_cost_warp_none():
    """A cost that sums per-choice work is linear in its own units; a rank warp bends it (and mispredicts)."""
    from hwnas.learn.warp import RankWarp

    space = make_space(5, 5)
    ev = Synthetic(space, seed=2)
    err = {}
    for warp in ("none", "rank"):
        st = run("linas", space, ev, budget=40, seed=1, cost_warp=warp).strategy
        assert isinstance(st.models.warps["acc"], RankWarp)  # the quality keeps the linas-wide warp
        assert (st.models.warps["cost"] is None) == (warp == "none")
        cand = st.pool.candidates()  # every architecture not yet evaluated
        pred = st.models.predict(cand).mean("cost")[0]
        truth = ev.values(cand.genes)[:, 1]
        err[warp] = float(np.median(np.abs(pred - truth) / truth))
    assert err["none"] < 0.02 and err["none"] < 0.5 * err["rank"], err
    assert get_strategy("linas", cost_warp="none").options()["cost_warp"] == "none"
    assert get_strategy("linas", cost_warp=None).options()["cost_warp"] is None
    with pytest.raises(ConfigError, match="cost_warp 'sqrt' not allowed"):
        get_strategy("linas", cost_warp="sqrt")


# ---------------------------------------------------------------------------- declared metric kinds, batch
def test_linas_learns_which_metrics_are_costs_from_the_evaluator():
    """A cost is modelled in its own units and on cost views because the evaluator declares it a cost,
    not because an objective minimises it."""
    from hwnas.evaluators.base import COST, QUALITY, MetricKind

    class Declared(Synthetic):
        def __init__(self, space, kinds):
            super().__init__(space, seed=2)
            self.kinds = kinds

        def metric_kinds(self):
            return self.kinds

    space = make_space(5, 5)
    as_cost = run("linas", space, Declared(space, {"acc": MetricKind(QUALITY), "cost": MetricKind(COST, "ms")}),
                  budget=20, seed=1).strategy
    assert as_cost.metric_kinds["cost"].unit == "ms"
    assert as_cost.models.costs == {"cost"} and as_cost.models.qualities == {"acc"}
    assert as_cost.models.warps["cost"] is None  # cost_warp: none
    as_quality = run("linas", space, Declared(space, {"acc": MetricKind(QUALITY), "cost": MetricKind(QUALITY)}),
                     budget=20, seed=1).strategy
    assert as_quality.models.costs == set() and as_quality.models.warps["cost"] is not None  # rank-warped


def test_the_study_reads_the_declared_preferred_batch():
    assert Strategy.preferred_batch == 1 and RandomSearch.preferred_batch == 10
    assert get_strategy("linas", batch=3).preferred_batch == 3
    space = make_space()
    study = Study(space, Synthetic(space), OBJ2, get_strategy("linas", batch=3), seed=0)
    assert study.batch_size == 3
