"""Benchmark scoring (hypervolume ratio on a table) and hypervolume improvement."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hwnas.core.errors import DataError
from hwnas.core.objectives import Objective
from hwnas.core.pareto import hypervolume, nondominated_mask
from hwnas.spaces.nb201 import NB201Space
from hwnas.strategies.improvement import hv_improvement
from hwnas.strategies.scoring import TableScorer, hypervolume_ratio_of_archs

OBJ = [Objective("acc", "max"), Objective("lat", "min")]


def table(n=200, seed=0):
    rng = np.random.default_rng(seed)
    lat = rng.uniform(1, 10, n)
    acc = 50 + 40 * (1 - np.exp(-lat / 3)) + rng.normal(0, 3, n)
    return pd.DataFrame({"arch": [f"a{i}" for i in range(n)], "acc": acc, "lat": lat})


def test_true_front_scores_one_and_subsets_less():
    df = table()
    sc = TableScorer(df, OBJ)
    F = np.c_[-df.acc, df.lat]
    front = df.arch[nondominated_mask(F)].tolist()
    inside = df.arch[nondominated_mask(F) & (F < sc.ref).all(axis=1)].tolist()
    assert len(inside) >= 2
    assert sc.ratio(front) == pytest.approx(1.0)
    assert sc.ratio(df.arch) == pytest.approx(1.0)
    assert sc.ratio(inside[1:]) < 1.0
    assert sc.ratio([]) == 0.0
    assert hypervolume_ratio_of_archs(df, OBJ, front) == pytest.approx(1.0)


def test_reference_point_is_the_median_and_points_outside_count_nothing():
    df = table()
    sc = TableScorer(df, OBJ)
    np.testing.assert_allclose(sc.ref, [np.median(-df.acc), np.median(df.lat)])
    worse = df[(df.acc < df.acc.median()) | (df.lat > df.lat.median())].arch
    assert sc.ratio(worse) == 0.0


def test_ratio_matches_a_hand_computed_case():
    df = pd.DataFrame({"arch": list("abcde"), "acc": [90.0, 80.0, 70.0, 60.0, 50.0], "lat": [5.0, 3.0, 1.0, 4.0, 6.0]})
    sc = TableScorer(df, OBJ)  # ref = (-70, 4); true front points inside: a? no (lat 5), b (-80, 3)
    assert sc.ref.tolist() == [-70.0, 4.0]
    # only b lies strictly inside the box: true HV = (80-70) * (4-3) = 10; b alone finds all of it
    assert sc.ratio(["b"]) == pytest.approx(1.0)
    assert sc.ratio(["a", "c", "d", "e"]) == 0.0


def test_ratios_at_checkpoints_grow():
    df = table()
    sc = TableScorer(df, OBJ)
    order = df.arch.sample(frac=1.0, random_state=1).tolist()
    r = sc.ratios_at(order, [10, 50, 200])
    assert r[10] <= r[50] <= r[200] == pytest.approx(1.0)


def test_errors_name_the_column_and_architecture():
    df = table()
    with pytest.raises(DataError, match="unknown column 'acc2'"):
        TableScorer(df, [Objective("acc2", "max")])
    with pytest.raises(DataError, match="not numeric"):
        TableScorer(df.assign(acc=df.acc.astype(str)), OBJ)
    with pytest.raises(DataError, match="'zzz' is not in the table"):
        TableScorer(df, OBJ).ratio(["zzz"])


def test_equivalent_nb201_strings_are_found_through_the_space():
    space = NB201Space()
    archs = [space.format(space.from_genes(g)) for g in space.sample_genes(np.random.default_rng(0), 50)]
    canon = [space.key(a) for a in archs]
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"arch": canon, "acc": rng.uniform(50, 90, 50), "lat": rng.uniform(1, 9, 50)})
    sc = TableScorer(df.drop_duplicates("arch"), OBJ, space=space)
    assert sc.row_of(archs[0]) == sc.row_of(canon[0])


@pytest.mark.parametrize("d", [1, 2, 3])
def test_hv_improvement_equals_the_hypervolume_difference(d):
    rng = np.random.default_rng(d)
    ref = np.ones(d)
    for _ in range(20):
        front = rng.random((int(rng.integers(0, 8)), d))
        pts = rng.random((30, d)) * 1.2
        got = hv_improvement(pts, front, ref)
        base = hypervolume(front, ref)
        want = [hypervolume(np.vstack([front, p]), ref) - base for p in pts]
        np.testing.assert_allclose(got, want, atol=1e-12)


def test_hv_improvement_keeps_leading_shape_and_ignores_nan():
    front = np.array([[0.5, 0.5]])
    pts = np.array([[[0.1, 0.1], [np.nan, 0.1]], [[0.6, 0.6], [0.2, 0.9]]])
    got = hv_improvement(pts, front, np.ones(2))
    assert got.shape == (2, 2)
    assert got[0, 0] == pytest.approx(0.81 - 0.25)  # its box (0.9^2) minus the front's (0.5^2)
    assert got[0, 1] == 0.0 and got[1, 0] == 0.0
    assert got[1, 1] == pytest.approx(0.3 * 0.1)
