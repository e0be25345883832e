"""Learned latency/energy predictor: features, fitting, memory, uncertainty, persistence, transfer, cost model."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import kendalltau

from hwnas.core.errors import CostModelError, DataError
from hwnas.core.layers import Layer, Workload
from hwnas.costs.latency.evaluation import evaluate, load_table
from hwnas.costs.latency.features import layer_cost_features
from hwnas.costs.latency.predictor import LatencyPredictor, PredictorCostModel, guess_unit
from hwnas.costs.latency.transfer import adapt
from hwnas.learn.regressor import _lower_bounded_lsq
from hwnas.spaces.nb201 import EDGES, NB201Space
from hwnas.spaces.nb201_views import (
    apply_representatives,
    first_listed_representatives,
    nb201_class_keys,
    nb201_cost_features,
    nb201_measure_keys,
)

SPACE = NB201Space()
ALL = np.array(np.unravel_index(np.arange(5**6), (5,) * 6)).T


def synthetic_device(genes, op_cost, base=1.0, edge_jitter=None, noise=0.02, outliers=0.05, seed=0):
    """A device whose latency is base + per executed (edge, op) cost, with run noise and disturbed runs.

    One measurement per executed-graph class, like a real benchmark.
    """
    canon = SPACE.canonical_genes(genes)
    cost = np.asarray(op_cost)[canon]
    if edge_jitter is not None:
        cost = cost * (1 + edge_jitter[np.arange(6), canon])
    clean = base + cost.sum(axis=1)
    keys = nb201_class_keys(SPACE, genes)
    uniq, inv = np.unique(keys, return_inverse=True)
    rng = np.random.default_rng(seed)
    factor = np.exp(rng.normal(0, noise, len(uniq)))
    factor[rng.random(len(uniq)) < outliers] *= 1.6
    return clean * factor[inv], clean


@pytest.fixture(scope="module")
def device_a():
    jitter = np.random.default_rng(1).normal(0, 0.1, (6, 5))
    y, clean = synthetic_device(ALL, [0.0, 0.05, 0.6, 3.0, 0.4], base=1.2, edge_jitter=jitter)
    return y, clean, jitter


def test_features_count_only_executed_work():
    # node 2 never reaches the output: its incoming edges are not executed
    arch = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|avg_pool_3x3~1|none~2|"
    block = nb201_cost_features(SPACE, SPACE.to_genes(arch)[None])
    row = dict(zip(block.names, block.matrix[0]))
    assert row["n_nor_conv_3x3"] == 1  # only edge 0->1
    assert row["n_skip_connect"] == 1 and row["n_avg_pool_3x3"] == 1
    assert row["node2_computed"] == 0 and row["node1_computed"] == 1 and row["disconnected"] == 0
    assert set(block.groups) == {"op", "edge_op", "struct"}
    # an edge leaving a zero-valued node still runs (counted), but the cell is disconnected
    zero = "|none~0|+|none~0|nor_conv_1x1~1|+|none~0|none~1|avg_pool_3x3~2|"
    row = dict(zip(block.names, nb201_cost_features(SPACE, SPACE.to_genes(zero)[None]).matrix[0]))
    assert row["n_nor_conv_1x1"] == 1 and row["n_avg_pool_3x3"] == 1 and row["disconnected"] == 1


def test_class_keys_merge_exactly_the_executed_graph():
    a = SPACE.to_genes("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|avg_pool_3x3~1|none~2|")
    b = SPACE.to_genes("|nor_conv_3x3~0|+|avg_pool_3x3~0|none~1|+|skip_connect~0|avg_pool_3x3~1|none~2|")
    c = SPACE.to_genes("|nor_conv_3x3~0|+|avg_pool_3x3~0|none~1|+|skip_connect~0|avg_pool_3x3~1|skip_connect~2|")
    k = nb201_class_keys(SPACE, np.stack([a, b, c]))
    assert k[0] == k[1] != k[2]
    assert len(np.unique(nb201_class_keys(SPACE, ALL))) == 12205


def test_few_measurements_recover_the_ranking(device_a):
    y, clean, _ = device_a
    rng = np.random.default_rng(3)
    train = rng.choice(len(ALL), 20, replace=False)
    pred = LatencyPredictor(target="lat_ms", members=4).fit(ALL[train], y[train])
    p = pred.predict(ALL)
    test = np.setdiff1d(np.arange(len(ALL)), train)
    assert kendalltau(p[test], clean[test]).statistic > 0.85
    assert np.mean(np.abs(p[test] / clean[test] - 1) < 0.1) > 0.8
    # the op-type costs it learned are in the true order (conv3x3 > conv1x1 > pool > skip)
    op_cost = dict(zip(pred.feature_names, pred.mean_fit().coef))
    assert op_cost["n_nor_conv_3x3"] > op_cost["n_nor_conv_1x1"] > op_cost["n_avg_pool_3x3"] > op_cost["n_skip_connect"]


def test_robust_fit_shrugs_off_disturbed_runs(device_a):
    _, clean, _ = device_a
    rng = np.random.default_rng(5)
    train = rng.choice(len(ALL), 60, replace=False)
    y = clean[train].copy()
    y[:12] *= 3.0  # a fifth of the runs badly disturbed
    p = LatencyPredictor(members=1).fit(ALL[train], y).predict(ALL, use_memory=False)
    assert np.median(np.abs(p / clean - 1)) < 0.05


def test_memory_answers_measured_graphs_and_their_equivalents(device_a):
    y, _, _ = device_a
    train = np.arange(0, len(ALL), 97)
    pred = LatencyPredictor(members=2).fit(ALL[train], y[train])
    assert np.allclose(pred.predict(ALL[train]), y[train])
    # an equivalent cell (differs only on an edge into a dead node) gets the measured value too
    keys = nb201_class_keys(SPACE, ALL)
    measured = set(keys[train].tolist())
    twins = [i for i in range(len(ALL)) if keys[i] in measured and i not in set(train.tolist())][:5]
    assert twins, "expected equivalent cells in the space"
    got = pred.predict(ALL[twins])
    want = [y[train][keys[train] == keys[i]][0] for i in twins]
    assert np.allclose(got, want)
    no_mem = pred.predict(ALL[twins], use_memory=False)
    assert not np.allclose(no_mem, want)


def test_uncertainty_is_larger_where_the_data_is_thin(device_a):
    y, _, _ = device_a
    n3 = (SPACE.canonical_genes(ALL) == 3).sum(axis=1)
    rng = np.random.default_rng(7)
    # many cells without 3x3 convolutions, only three with one: its cost rests on three noisy runs
    train = np.r_[rng.choice(np.flatnonzero(n3 == 0), 40, replace=False),
                  rng.choice(np.flatnonzero(n3 == 1), 3, replace=False)]
    pred = LatencyPredictor(members=8, memory=False).fit(ALL[train], y[train])
    mean, std = pred.predict(ALL, return_std=True)
    rel = std / mean
    assert rel[n3 >= 3].mean() > 2 * rel[n3 == 0].mean()


def test_save_load_roundtrip_is_plain_json(tmp_path, device_a):
    y, _, _ = device_a
    rows = np.random.default_rng(4).choice(len(ALL), 300, replace=False)
    pred = LatencyPredictor(target="pi5_onnx_latency_ms", members=3).fit(ALL[rows], y[rows])
    path = pred.save(tmp_path / "p.json")
    data = json.loads(path.read_text())
    assert data["format"] == "hwnas.latency_predictor/1" and data["unit"] == "ms"
    again = LatencyPredictor.load(path)
    assert np.array_equal(again.predict(ALL[::50]), pred.predict(ALL[::50]))
    assert np.array_equal(again.predict(ALL[::50], return_std=True)[1], pred.predict(ALL[::50], return_std=True)[1])
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": "something else"}))
    with pytest.raises(DataError, match="not a saved latency predictor"):
        LatencyPredictor.load(bad)
    data["fits"][0]["coef"] = data["fits"][0]["coef"][:-1]
    bad.write_text(json.dumps(data))
    with pytest.raises(DataError, match="disagree"):
        LatencyPredictor.load(bad)


def test_fit_refuses_bad_targets():
    with pytest.raises(DataError, match="position 1"):
        LatencyPredictor().fit(ALL[:3], [1.0, float("nan"), 2.0])
    with pytest.raises(DataError, match="3 architectures but 2"):
        LatencyPredictor().fit(ALL[:3], [1.0, 2.0])
    with pytest.raises(CostModelError, match="not fitted"):
        LatencyPredictor().predict(ALL[:2])
    with pytest.raises(CostModelError, match="space 'nope' unknown"):
        LatencyPredictor(space="nope")


def test_zero_measurement_is_remembered_not_regressed(device_a):
    y, _, _ = device_a
    rows = np.random.default_rng(2).choice(len(ALL), 200, replace=False)
    keys = nb201_class_keys(SPACE, ALL[rows])
    alone = next(i for i, k in enumerate(keys) if (keys == k).sum() == 1)
    yy = y[rows].copy()
    yy[alone] = 0.0  # a runtime that folded a constant network away
    pred = LatencyPredictor(members=2).fit(ALL[rows], yy)
    assert pred.predict(ALL[rows[alone:alone + 1]])[0] == 0.0
    assert np.all(pred.predict(ALL[rows], use_memory=False) > 0)


def test_transfer_from_a_source_device_beats_fitting_from_scratch():
    # two devices sharing strong position effects (memory layout, fusion) but with different op speeds
    jitter = np.random.default_rng(21).normal(0, 0.35, (6, 5))
    y_a, _ = synthetic_device(ALL, [0.0, 0.05, 0.6, 3.0, 0.4], base=1.2, edge_jitter=jitter, seed=3)
    y_b, clean_b = synthetic_device(ALL, [0.0, 0.2, 1.1, 4.0, 1.2], base=0.5, edge_jitter=jitter, seed=9)
    rng = np.random.default_rng(11)
    many = rng.choice(len(ALL), 3000, replace=False)
    source = LatencyPredictor(target="a", members=2).fit(ALL[many], y_a[many])
    few = rng.choice(len(ALL), 10, replace=False)
    test = np.setdiff1d(np.arange(len(ALL)), few)
    tuned = adapt(source, ALL[few], y_b[few], target="b")
    scratch = LatencyPredictor(target="b", members=tuned.n_members).fit(ALL[few], y_b[few])
    tau_tuned = kendalltau(tuned.predict(ALL[test]), clean_b[test]).statistic
    tau_scratch = kendalltau(scratch.predict(ALL[test]), clean_b[test]).statistic
    assert tau_tuned > 0.9 and tau_tuned > tau_scratch + 0.02
    assert tuned.provenance["transfer_from"] == "a" and tuned.provenance["transfer_used"] is True


def test_layer_list_predictor_and_cost_model(tmp_path):
    rng = np.random.default_rng(0)

    def net(width, depth):
        layers = [Layer("conv", 3, width, 32, 32, kernel=3, name="stem")]
        for i in range(depth):
            layers += [Layer("conv", width, width, 16, 16, kernel=3, name=f"c{i}"), Layer("relu", width, width, 16, 16)]
        return layers + [Layer("gap", width, width, 16, 16), Layer("linear", width, 10, name="fc")]

    shapes = [(int(w), int(d)) for w, d in zip(rng.integers(8, 64, 40), rng.integers(1, 6, 40))]
    nets = [net(w, d) for w, d in shapes]
    macs = layer_cost_features(nets).matrix[:, 0]
    y = 0.3 + 0.02 * macs * np.exp(rng.normal(0, 0.02, len(nets)))
    pred = LatencyPredictor(space=None, target="lat_ms", members=3).fit(nets[:25], y[:25])
    p = pred.predict(nets[25:])
    assert np.all(np.abs(p / y[25:] - 1) < 0.1)
    model = PredictorCostModel(path=pred.save(tmp_path / "layers.json"))
    w, d = shapes[30]
    out = model.cost(Workload(key="n30", layers=net(w, d), input_shape=(1, 3, 32, 32)))
    assert set(out) == {"lat_ms", "lat_ms_std"} and model.units["lat_ms"] == "ms"
    assert out["lat_ms"] == pytest.approx(p[5])
    with pytest.raises(CostModelError, match="layer lists"):
        model.cost_arch("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|")


def test_space_cost_model_costs_workloads_and_archs(device_a):
    y, _, _ = device_a
    rows = np.random.default_rng(6).choice(len(ALL), 500, replace=False)
    pred = LatencyPredictor(target="pi5_x_energy_mj", members=2).fit(ALL[rows], y[rows])
    model = PredictorCostModel(predictor=pred, metric="energy")
    arch = SPACE.format(SPACE.from_genes(ALL[1000]))
    by_arch = model.cost_arch(arch)
    by_workload = model.cost(Workload(key=arch, layers=[], input_shape=(1, 3, 32, 32)))
    assert by_arch == by_workload and by_arch["energy"] == pytest.approx(pred.predict(ALL[1000:1001])[0])
    assert model.units == {"energy": "mJ", "energy_std": "mJ"} and model.name == "predictor"
    with pytest.raises(CostModelError, match="exactly one"):
        PredictorCostModel()


def test_unit_guess():
    assert guess_unit("pi5_onnx_latency_ms") == "ms" and guess_unit("x_energy_mJ") == "mJ"
    assert guess_unit("score") == "1"


def _shared() -> Path:
    return Path(os.environ.get("HWNAS_SHARED", Path(__file__).resolve().parents[1].parent / "shared"))


def test_real_pi5_measurements_meet_the_issue_bars():
    path = _shared() / "benchdata" / "nb201_hw.csv"
    if not path.exists():
        pytest.skip(f"shared benchmark data not found at {path} (set HWNAS_SHARED)")
    table = load_table(path)
    # the issue's bars: N=100 tau >= 0.75 and >= 60 % within 10 %; N=20 tau >= 0.65 (here every seed, not the median)
    for target, n in (("pi5_onnx_latency_ms", 100), ("pi5_litert_latency_ms", 20)):
        res = evaluate(table, target, n, seeds=2, members=2)
        assert min(res["kendall_tau"]) > 0.75 and min(res["within_10pct"]) > 0.6, (target, n, res)
        # the table measures each isomorphism class once: cross-validation found that out
        assert all(v.endswith("/first") for v in res["views"])


# ---------------------------------------------------------------------------------------------- measurement protocol
A_SKIP_THEN_CONV = "|skip_connect~0|+|none~0|none~1|+|none~0|nor_conv_3x3~1|none~2|"
B_DIRECT_CONV = "|none~0|+|none~0|none~1|+|nor_conv_3x3~0|none~1|none~2|"
C_OTHER_CONV = "|none~0|+|none~0|none~1|+|nor_conv_1x1~0|none~1|none~2|"


def test_measure_keys_are_nb201_isomorphism_classes():
    keys = nb201_measure_keys(ALL)
    assert len(np.unique(keys)) == 6466  # NAS-Bench-201's count of unique cells
    a, b, c = (SPACE.to_genes(x) for x in (A_SKIP_THEN_CONV, B_DIRECT_CONV, C_OTHER_CONV))
    ka, kb, kc = nb201_measure_keys(np.stack([a, b, c]))
    assert ka == kb != kc  # conv(skip(x)) is conv(x); a 1x1 conv is not a 3x3 one
    # yet the two execute different graphs
    assert nb201_class_keys(SPACE, a[None])[0] != nb201_class_keys(SPACE, b[None])[0]


def test_first_listed_member_represents_its_class():
    a, b, c = (SPACE.to_genes(x) for x in (A_SKIP_THEN_CONV, B_DIRECT_CONV, C_OTHER_CONV))
    reps = first_listed_representatives(np.stack([b, c, a, b]))
    assert len(reps) == 1  # only the class with two distinct members needs a representative
    assert np.array_equal(apply_representatives(np.stack([a, b, c]), reps), np.stack([b, b, c]))
    reps = first_listed_representatives(np.stack([a, b]))
    assert np.array_equal(apply_representatives(b[None], reps)[0], a)


def every_edge_device(genes, op_cost, base=1.0, merge_pools=False):
    """A runtime that runs every edge as exported (`none` is a multiply by zero); optionally merging
    identical pools on one input."""
    cost = base + np.asarray(op_cost)[genes].sum(axis=1)
    if merge_pools:
        for src in range(3):
            pools = sum(genes[:, e] == 4 for e, (_, j) in enumerate(EDGES) if j == src)
            cost -= op_cost[4] * np.maximum(pools - 1, 0)
    return cost





def copied_table(clean, order):
    """One measurement per isomorphism class, of its first member in ``order``, copied to every member."""
    keys = nb201_measure_keys(ALL)
    value = {}
    for i in order:
        value.setdefault(int(keys[i]), clean[i] * np.exp(np.random.default_rng(int(i)).normal(0, 0.01)))
    return np.array([value[int(k)] for k in keys])


def test_cross_validation_finds_the_tables_protocol_and_the_runtimes_view():
    order = np.random.default_rng(0).permutation(len(ALL))
    catalog = ALL[order]
    clean = every_edge_device(ALL, [0.3, 0.05, 0.6, 3.0, 0.8], merge_pools=True)
    y = copied_table(clean, order)
    rng = np.random.default_rng(1)
    train = rng.choice(len(ALL), 60, replace=False)
    test = np.setdiff1d(np.arange(len(ALL)), train)
    pred = LatencyPredictor(members=2).fit(ALL[train], y[train], catalog=catalog)
    assert (pred.view, pred.representative) == ("every_edge+cse", "first")
    assert set(pred.provenance["selection"]) == {f"{v}/{r}" for v in
                                                 ("executed", "executed+cse", "every_edge", "every_edge+cse")
                                                 for r in ("own", "first")}
    own = LatencyPredictor(members=2, view="executed", representative="own").fit(ALL[train], y[train])
    tau = kendalltau(pred.predict(ALL[test], use_memory=False), y[test]).statistic
    tau_own = kendalltau(own.predict(ALL[test], use_memory=False), y[test]).statistic
    assert tau > 0.95 and tau > tau_own + 0.1
    # the memory answers every member of a measured class exactly
    keys = nb201_measure_keys(ALL)
    twin = next(i for i in test if keys[i] in set(keys[train].tolist()))
    assert pred.predict(ALL[twin:twin + 1])[0] == y[twin]


def test_cross_validation_keeps_own_cells_when_each_cell_was_measured(device_a):
    y, clean, _ = device_a  # pruned executed graph, one measurement per executed graph, not per class
    order = np.random.default_rng(0).permutation(len(ALL))
    train = np.random.default_rng(2).choice(len(ALL), 60, replace=False)
    pred = LatencyPredictor(members=2).fit(ALL[train], y[train], catalog=ALL[order])
    assert pred.representative == "own" and pred.view.startswith("executed")
    p = pred.predict(ALL)
    assert kendalltau(p, clean).statistic > 0.85


def test_view_and_representative_are_validated_and_saved(tmp_path):
    with pytest.raises(CostModelError, match="view='fast' unknown"):
        LatencyPredictor(view="fast")
    with pytest.raises(CostModelError, match="representative='last' unknown"):
        LatencyPredictor(representative="last")
    with pytest.raises(CostModelError, match="needs a catalog"):
        LatencyPredictor(representative="first").fit(ALL[:30], np.ones(30))
    order = np.random.default_rng(3).permutation(len(ALL))
    y = copied_table(every_edge_device(ALL, [0.3, 0.05, 0.6, 3.0, 0.8]), order)
    rows = np.random.default_rng(4).choice(len(ALL), 40, replace=False)
    pred = LatencyPredictor(members=2, view="every_edge", representative="first").fit(ALL[rows], y[rows],
                                                                                      catalog=ALL[order])
    again = LatencyPredictor.load(pred.save(tmp_path / "p.json"))
    assert (again.view, again.representative) == ("every_edge", "first")
    assert again.representatives == pred.representatives and len(again.representatives) > 1000
    assert np.array_equal(again.predict(ALL), pred.predict(ALL))


def test_bounded_least_squares_is_exact():
    from scipy.optimize import lsq_linear

    rng = np.random.default_rng(0)
    for _ in range(5):
        A, b = rng.normal(size=(30, 12)), rng.normal(size=30)
        lower = np.where(rng.random(12) < 0.5, 0.0, -np.inf)
        x = _lower_bounded_lsq(A, b, lower)
        ref = lsq_linear(A, b, bounds=(lower, np.inf), method="bvls").x
        assert np.all(x >= lower) and np.allclose(x, ref, atol=1e-8)


def test_a_predictor_file_written_by_the_pre_restructure_code_reads_the_same():
    """tests/data/latency_predictor_v1.json was saved by the code before spaces owned their views (format
    ``hwnas.latency_predictor/1``); it must predict what that code predicted, and another format is refused."""
    data = Path(__file__).parent / "data"
    expected = json.loads((data / "latency_predictor_v1_expected.json").read_text())
    pred = LatencyPredictor.load(data / "latency_predictor_v1.json")
    assert (pred.view, pred.representative) == (expected["view"], expected["representative"])
    mean, std = pred.predict(expected["archs"], return_std=True)
    assert np.allclose(mean, expected["mean"], rtol=1e-12, atol=0) and np.allclose(std, expected["std"], atol=1e-12)
    raw = json.loads((data / "latency_predictor_v1.json").read_text())
    raw["format"] = "hwnas.latency_predictor/0"
    with pytest.raises(DataError, match="its format is 'hwnas.latency_predictor/0'; expected format "
                                        "'hwnas.latency_predictor/1'"):
        LatencyPredictor.from_dict(raw, source="old.json")
