"""The K-stage NB201 space: text form, genes, and every stage-wise answer equal to the NB201 space's."""

from __future__ import annotations

import numpy as np
import pytest

from hwnas.core.errors import ConfigError, InvalidArchitecture
from hwnas.spaces import SPACES, get_space, views
from hwnas.spaces.nb201 import NB201Space

CELL_A = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"
# node 2 never reaches the output (both edges out of it are `none`), so its incoming edges are dead
CELL_DEAD = "|nor_conv_1x1~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|none~2|"
CELL_DEAD_CANON = "|nor_conv_1x1~0|+|none~0|none~1|+|skip_connect~0|nor_conv_3x3~1|none~2|"


@pytest.fixture(scope="module")
def space():
    return get_space("nb201_stages", stages=3)


def test_registered_and_sized():
    assert "nb201_stages" in SPACES.available()
    s = get_space("nb201_stages", stages=4)
    assert s.size == 15_625 ** 4
    assert len(s.dimensions) == 24
    assert s.enumerate_genes() is None
    assert get_space("nb201_stages", stages=1).enumerate_genes().shape == (15_625, 6)


@pytest.mark.parametrize("bad", [0, -2, 1.5, "3", True])
def test_stages_below_one_or_not_an_integer_is_refused(bad):
    with pytest.raises(ConfigError, match="stages must be an integer >= 1"):
        get_space("nb201_stages", stages=bad)


def test_text_form_round_trip_and_canonical_per_stage(space):
    text = ";".join([CELL_A, CELL_DEAD, CELL_A])
    arch = space.parse(text)
    assert arch["s1_edge_0_1"] == "nor_conv_3x3" and arch["s2_edge_0_1"] == "nor_conv_1x1"
    assert space.format(arch) == text
    assert space.key(text) == ";".join([CELL_A, CELL_DEAD_CANON, CELL_A])
    assert space.from_genes(space.to_genes(text)) == arch


def test_bad_text_names_the_stage(space):
    with pytest.raises(InvalidArchitecture, match="3 NB201 strings joined by ';', found 2"):
        space.parse(";".join([CELL_A, CELL_A]))
    with pytest.raises(InvalidArchitecture, match="stage 2 of 3"):
        space.parse(";".join([CELL_A, CELL_A.replace("nor_conv_3x3", "conv9", 1), CELL_A]))


def test_every_stage_wise_answer_is_the_nb201_spaces(space):
    cell = NB201Space()
    rng = np.random.default_rng(1)
    genes = space.sample_genes(rng, 40)
    stages = [genes[:, 6 * s: 6 * (s + 1)] for s in range(3)]
    for fn in ("canonical_genes", "function_genes", "live_genes"):
        np.testing.assert_array_equal(getattr(space, fn)(genes),
                                      np.hstack([getattr(cell, fn)(g) for g in stages]))
    np.testing.assert_array_equal(space.features(genes), np.hstack([cell.features(g) for g in stages]))
    for name in cell.quality_views:
        np.testing.assert_array_equal(views.quality_matrix(space, name, genes),
                                      np.hstack([views.quality_matrix(cell, name, g) for g in stages]))
    assert views.executed_views(space) == views.executed_views(cell)
    for view in views.executed_views(space):
        block = views.executed_work(space, genes, view)
        parts = [views.executed_work(cell, g, view) for g in stages]
        np.testing.assert_array_equal(block.matrix, np.hstack([p.matrix for p in parts]))
        assert block.groups == tuple(x for p in parts for x in p.groups)
        assert block.names[0] == f"s1:{parts[0].names[0]}"


def test_measurement_keys_are_the_tuple_of_the_stages_keys(space):
    cell = NB201Space()
    rng = np.random.default_rng(2)
    genes = space.sample_genes(rng, 300)
    genes[1] = genes[0]
    genes[2] = space.canonical_genes(genes[:1])[0]  # same executed graph as row 0
    for view in views.executed_views(space):
        for rep in ("own", "first"):
            keys = views.measurement_keys(space, genes, view, rep)
            tuples = [tuple(int(k) for k in row) for row in np.stack(
                [cell.measurement_keys(genes[:, 6 * s: 6 * (s + 1)], view, rep) for s in range(3)], axis=1)]
            # equal keys exactly where every stage's key is equal
            by_key = {}
            for k, t in zip(keys, tuples):
                assert by_key.setdefault(k, t) == t
            assert len(set(keys)) == len(set(tuples))
    assert views.measurement_keys(space, genes[:3], "executed", "own")[0] == \
        views.measurement_keys(space, genes[:3], "executed", "own")[2]
    classes = views.measurement_groups(space, genes)
    assert classes[0] == classes[1] == classes[2]


def test_representatives_apply_stage_by_stage(space):
    cell = NB201Space()
    rng = np.random.default_rng(3)
    catalog = space.sample_genes(rng, 2000)
    reps = space.listed_representatives(catalog)
    genes = space.sample_genes(rng, 50)
    out = space.apply_representatives(genes, reps)
    for s in range(3):
        mine = cell.listed_representatives(catalog[:, 6 * s: 6 * (s + 1)])
        np.testing.assert_array_equal(out[:, 6 * s: 6 * (s + 1)],
                                      cell.apply_representatives(genes[:, 6 * s: 6 * (s + 1)], mine))


def test_gene_codes_identify_rows_past_int64():
    s = get_space("nb201_stages", stages=5)  # 5^30 > 2^63
    rng = np.random.default_rng(4)
    genes = s.sample_genes(rng, 200)
    genes[7] = genes[3]
    codes = s.gene_codes(genes)
    assert codes[7] == codes[3]
    assert len(set(codes.tolist())) == len(np.unique(genes, axis=0))
    top = np.full((1, 30), 4)
    assert int(s.gene_codes(top)[0]) == 5 ** 30 - 1
