"""Block copies in a product space: one block's setting copied into another block of the same space."""

from __future__ import annotations

import numpy as np

from hwnas.spaces import get_space
from hwnas.spaces.product import copy_block, copy_pairs, feature_groups
from hwnas.spaces.protocols import BlockProduct


def test_stage_space_is_a_product_of_its_stages():
    space = get_space("nb201_stages", stages=3)
    assert isinstance(space, BlockProduct)
    assert len(space.blocks) == 3 and all(b is space.cell for b in space.blocks)
    assert sorted(copy_pairs(space)) == [(0, 1), (0, 2), (1, 0), (1, 2), (2, 0), (2, 1)]
    assert copy_pairs(get_space("nb201_stages", stages=1)) == []
    assert copy_pairs(get_space("nb201")) == []  # not a product


def test_each_row_gets_one_stage_copied_into_another():
    space = get_space("nb201_stages", stages=3)
    rng = np.random.default_rng(0)
    genes = space.sample_genes(rng, 400)
    out = copy_block(space, genes, rng)
    assert out.shape == genes.shape and out is not genes
    before, after = genes.reshape(-1, 3, 6), out.reshape(-1, 3, 6)
    changed = (before != after).any(axis=2)  # (rows, stages)
    assert (changed.sum(axis=1) <= 1).all()  # at most one stage rewritten per row
    for i in range(len(genes)):
        dst = np.flatnonzero(changed[i])
        if len(dst):  # the rewritten stage now holds another stage's original cell
            others = [s for s in range(3) if s != dst[0]]
            assert any((after[i, dst[0]] == before[i, s]).all() for s in others)
        else:  # the copied cell was already there: two stages were equal
            assert any((before[i, a] == before[i, b]).all() for a in range(3) for b in range(a + 1, 3))
    assert changed.any(axis=1).mean() > 0.9  # random cells rarely coincide
    # every stage is a destination and a source
    assert set(np.flatnonzero(changed.any(axis=0))) == {0, 1, 2}


def test_rows_of_a_space_without_pairs_come_back_unchanged():
    rng = np.random.default_rng(1)
    one = get_space("nb201_stages", stages=1)
    genes = one.sample_genes(rng, 20)
    np.testing.assert_array_equal(copy_block(one, genes, rng), genes)
    flat = get_space("nb201")
    np.testing.assert_array_equal(copy_block(flat, genes, rng), genes)


def test_feature_groups_are_each_stage_s_columns():
    space = get_space("nb201_stages", stages=3)
    genes = space.sample_genes(np.random.default_rng(1), 20)
    encodings = {"generic": (space.features, space.cell.features)}
    for view in space.quality_views:
        encodings[view] = (lambda g, v=view: space.quality_features(v, g),
                           lambda g, v=view: space.cell.quality_features(v, g))
    for view in space.executed_views:
        encodings[f"{view}/own"] = (lambda g, v=view: space.executed_work(g, v).matrix,
                                    lambda g, v=view: space.cell.executed_work(g, v).matrix)
    for view, (whole, cell) in encodings.items():
        groups = feature_groups(space, view)
        X = whole(genes)
        assert len(groups) == 3 and np.array_equal(np.concatenate(groups), np.arange(X.shape[1])), view
        for s, cols in enumerate(groups):  # group s is stage s's own encoding
            np.testing.assert_array_equal(X[:, cols], cell(space.stage_genes(genes, s)))
    assert feature_groups(get_space("nb201_stages", stages=1)) is None
    assert feature_groups(get_space("nb201")) is None


def test_uniform_genes_repeat_each_distinct_cell_at_every_stage():
    from hwnas.spaces.product import uniform_genes

    space = get_space("nb201_stages", stages=3)
    cell = space.cell
    every = uniform_genes(space, 100_000, prune=False)
    stages = every.reshape(len(every), 3, -1)
    assert (stages == stages[:, :1]).all()  # one setting at every stage
    assert len(every) == len(np.unique(cell.canonical_genes(cell.enumerate_genes(cell.size)), axis=0))
    pruned = uniform_genes(space, 100_000)
    fn = cell.canonical_genes(cell.function_genes(pruned[:, :len(cell.cardinalities)]))
    assert len(pruned) < len(every) and (fn == pruned[:, :len(cell.cardinalities)]).all()  # no cell runs dead code
    assert uniform_genes(space, 1000) is None  # the cell space is larger than the limit
    assert uniform_genes(get_space("nb201_stages", stages=1), 100_000) is None
    assert uniform_genes(get_space("nb201"), 100_000) is None
