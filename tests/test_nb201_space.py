import numpy as np
import pytest

from hwnas.core.errors import InvalidArchitecture
from hwnas.spaces import get_space
from hwnas.spaces.base import ChoiceSpace, Dimension
from hwnas.spaces.nb201 import NB201Space

S = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"


def test_parse_format_roundtrip_and_size():
    space = NB201Space()
    assert space.size == 15625
    arch = space.parse(S)
    assert arch["edge_0_1"] == "nor_conv_3x3" and arch["edge_2_3"] == "skip_connect"
    assert space.format(arch) == S
    rng = np.random.default_rng(0)
    for g in space.sample_genes(rng, 50):
        a = space.from_genes(g)
        assert space.parse(space.format(a)) == a


@pytest.mark.parametrize("bad, words", [
    ("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|", "3 groups"),
    ("|conv9~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|", "unknown operation"),
    ("|nor_conv_3x3~1|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|", "op~0"),
    ("|nor_conv_3x3~0|+|nor_conv_3x3~0|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|", "2 incoming"),
])
def test_malformed_strings_are_refused_with_reason(bad, words):
    with pytest.raises(InvalidArchitecture, match=words):
        NB201Space().parse(bad)


def test_canonical_removes_only_code_that_never_runs():
    space = NB201Space()
    # node 1 feeds nothing that reaches the output (edges 1->2 and 1->3 are none, 2->3 none):
    # edge 0->1 never runs, whatever its op
    a = "|nor_conv_3x3~0|+|nor_conv_1x1~0|none~1|+|skip_connect~0|none~1|none~2|"
    b = "|avg_pool_3x3~0|+|skip_connect~0|none~1|+|skip_connect~0|none~1|none~2|"
    assert space.key(a) == space.key(b) == "|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"
    # an edge leaving a node that only receives zeros still runs: not merged
    c = "|none~0|+|none~0|none~1|+|nor_conv_3x3~0|skip_connect~1|none~2|"
    d = "|none~0|+|none~0|none~1|+|nor_conv_3x3~0|none~1|none~2|"
    assert space.key(c) != space.key(d)
    genes = space.enumerate_genes()
    canon = space.canonical_genes(genes)
    assert len({tuple(r) for r in canon}) == 12205
    # canonical form is idempotent
    assert (space.canonical_genes(canon) == canon).all()


def test_function_genes_keep_only_what_reaches_the_output():
    space = NB201Space()
    # node 1 receives only zeros (0->1 is none), yet its 3x3 conv into node 3 is executed
    dead = "|none~0|+|none~0|none~1|+|nor_conv_3x3~0|nor_conv_3x3~1|none~2|"
    alive = "|none~0|+|none~0|none~1|+|nor_conv_3x3~0|none~1|none~2|"
    g = space.genes_matrix([space.parse(dead), space.parse(alive)])
    canon, fn = space.canonical_genes(g), space.function_genes(g)
    assert (canon[0] != canon[1]).any()  # both run, at different cost
    assert (fn[0] == fn[1]).all() and (fn[1] == canon[1]).all()  # same function; the cheaper one runs only it
    genes = space.enumerate_genes()
    fn_all = space.function_genes(genes)
    assert (space.function_genes(fn_all) == fn_all).all()
    # every function is computed by exactly one canonical cell that runs nothing else
    minimal = np.unique(space.canonical_genes(genes)[(space.canonical_genes(genes) == fn_all).all(1)], axis=0)
    assert len(minimal) == len(np.unique(fn_all, axis=0)) == 9445


def test_a_space_without_dead_code_has_function_equal_to_canonical():
    space = ChoiceSpace([Dimension("a", (1, 2, 3)), Dimension("b", ("x", "y"))])
    genes = space.enumerate_genes()
    assert (space.function_genes(genes) == space.canonical_genes(genes)).all()


def test_canonical_classes_share_measured_latency(nb201_csv):
    import pandas as pd

    space = NB201Space()
    df = pd.read_csv(nb201_csv)
    keys = [space.key(a) for a in df.arch]
    spread = df.assign(k=keys).groupby("k")["pi5_onnx_latency_ms"].agg(lambda x: x.max() - x.min())
    assert len(spread) == 12205
    assert spread.max() == 0.0


def test_features_distinguish_live_and_executed_edges():
    space = NB201Space()
    g = space.genes_matrix([space.parse(S)])
    f = space.features(g)
    assert f.shape == (1, 71)
    assert space.encode([S]).shape == (1, 71)
    # executed one-hot has exactly 6 ones
    assert f[0, :30].sum() == 6


def test_operators_stay_in_space_and_mutation_changes_something():
    space = get_space("nb201")
    rng = np.random.default_rng(1)
    g = space.sample_genes(rng, 200)
    m = space.mutate_genes(g, rng)
    assert ((m != g).sum(1) >= 1).all()
    assert (m >= 0).all() and (m < space.cardinalities).all()
    x = space.crossover_genes(g[:100], g[100:], rng)
    assert ((x == g[:100]) | (x == g[100:])).all()


def test_unknown_space_name():
    from hwnas.core.errors import ConfigError

    with pytest.raises(ConfigError, match="nb201"):
        get_space("nope")


def test_vectorised_reachability_matches_the_definition_on_every_cell():
    """Executed edges feed a node that reaches the output; fully live edges also start at a node the
    input reaches (checked cell by cell against a direct path search)."""
    from hwnas.spaces import nb201_cell as cell

    def reaches(on, start, goal):
        if start == goal:
            return True
        return any(on.get((k, start)) and reaches(on, k, goal) for k in range(start + 1, 4))

    canon, live = cell.tables()
    every = cell.genes_of(np.arange(cell.N_CELLS))
    for code in range(0, cell.N_CELLS, 7):
        genes = every[code]
        on = {cell.EDGES[i]: genes[i] != 0 for i in range(6)}
        used = [on[(k, j)] and reaches(on, k, 3) for k, j in cell.EDGES]
        alive = [u and reaches(on, 0, j) for u, (k, j) in zip(used, cell.EDGES)]
        assert canon[code].tolist() == [g if u else 0 for g, u in zip(genes, used)]
        assert live[code].tolist() == [g if a else 0 for g, a in zip(genes, alive)]
