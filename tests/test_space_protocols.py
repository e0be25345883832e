"""What a space knows is declared (spaces/protocols.py) and asked through spaces/views.py, never by name."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from hwnas.core.errors import ConfigError
from hwnas.costs.count import CountModel
from hwnas.costs.latency.predictor import LatencyPredictor
from hwnas.evaluators.cost import CostEvaluator, target_evaluator
from hwnas.spaces import views
from hwnas.spaces.base import ChoiceSpace, Dimension
from hwnas.spaces.nb201 import NB201Space
from hwnas.spaces.protocols import CostableSpace, ExecutedWorkViews, QualityViews, is_costable
from hwnas.strategies.cost_views import GENERIC, CostViews

SRC = Path(__file__).resolve().parents[1] / "src" / "hwnas"


class ToySpace(ChoiceSpace):
    """Three dimensions; the last one is dead when the first is 0 (so the canonical form merges cells)."""

    name = "toy"

    def __init__(self):
        super().__init__([Dimension("a", (0, 1, 2)), Dimension("b", (0, 1)), Dimension("c", ("x", "y", "z"))])

    def canonical(self, arch):
        arch = self.validate(arch)
        return {**arch, "c": "x"} if arch["a"] == 0 else arch


def test_nb201_declares_its_views_and_a_plain_space_gets_the_generic_ones():
    nb = NB201Space()
    assert isinstance(nb, ExecutedWorkViews) and isinstance(nb, QualityViews) and not is_costable(nb)
    assert views.quality_view_names(nb) == [GENERIC, "generic+pairs"]
    assert views.executed_views(nb) == ("executed", "executed+cse", "every_edge", "every_edge+cse")
    toy = ToySpace()
    assert not isinstance(toy, ExecutedWorkViews) and not isinstance(toy, QualityViews)
    assert views.quality_view_names(toy) == [GENERIC]
    assert views.executed_views(toy) == ("executed",)
    genes = toy.enumerate_genes()
    block = views.executed_work(toy, genes)
    assert np.array_equal(block.matrix, toy.one_hot(toy.canonical_genes(genes)))
    # cells that differ only in the dead dimension share a measurement
    groups = views.measurement_groups(toy, genes)
    assert len(np.unique(groups)) == len(np.unique(toy.canonical_genes(genes), axis=0)) == 2 + 2 * 2 * 3
    keys = views.measurement_keys(toy, genes)
    assert len(set(keys)) == len(np.unique(groups))
    assert views.listed_representatives(toy, genes) == {}
    with pytest.raises(ValueError, match="quality view 'generic\\+pairs' unknown"):
        views.quality_matrix(toy, "generic+pairs", genes)
    cv = CostViews(toy, genes)
    assert cv.names == [GENERIC] and cv.quality_names == [GENERIC]


def test_costable_is_a_declared_contract():
    class Layered:
        name = "layered"

        def workload(self, arch):
            raise NotImplementedError

    assert is_costable(Layered()) and isinstance(Layered(), CostableSpace)
    assert not is_costable(NB201Space())
    with pytest.raises(TypeError, match="cannot describe its architectures as layers"):
        CostEvaluator(CountModel()).bind(NB201Space())
    with pytest.raises(ConfigError, match="use a trainable space"):
        target_evaluator("count", {}, "", NB201Space())


def test_trainable_nb201_shares_the_cell_knowledge():
    pytest.importorskip("torch")
    from hwnas.spaces.nb201_net import NB201NetSpace

    net, nb = NB201NetSpace(), NB201Space()
    assert is_costable(net) and isinstance(net, ExecutedWorkViews)
    genes = nb.enumerate_genes()[::53]
    catalog = np.random.default_rng(0).permutation(nb.enumerate_genes())
    a, b = CostViews(net, catalog), CostViews(nb, catalog)
    assert a.names == b.names and a.quality_names == b.quality_names and len(a.names) == 9
    for name in a.names + a.quality_names:
        assert np.array_equal(a.matrix(name, genes), b.matrix(name, genes)), name
    assert np.array_equal(a.groups(genes), b.groups(genes))
    # the latency predictor reads nb201_net by its registered name, with NB201's executed-work views
    y = 1.0 + views.executed_work(nb, genes).matrix[:, :4] @ np.array([0.1, 0.5, 2.0, 0.3])
    p_net = LatencyPredictor(space="nb201_net", target="lat_ms", members=2).fit(genes, y)
    p_nb = LatencyPredictor(space="nb201", target="lat_ms", members=2).fit(genes, y)
    assert p_net.feature_names == p_nb.feature_names and p_net.space_name == "nb201_net"
    assert np.allclose(p_net.predict(genes[:20]), p_nb.predict(genes[:20]))


def test_latency_predictor_reads_any_choice_space_by_its_canonical_form():
    toy = ToySpace()
    genes = toy.enumerate_genes()
    canon = toy.canonical_genes(genes)
    y = 1.0 + canon[:, 0] * 0.5 + canon[:, 1] * 2.0 + canon[:, 2] * 0.25
    pred = LatencyPredictor(space=toy, target="lat_ms", members=2).fit(genes, y)
    assert pred.space_name == "toy" and pred.view == "executed"
    assert np.allclose(pred.predict(genes), y)  # every executed graph was measured: answered from memory
    with pytest.raises(Exception, match="predictor view='every_edge' unknown; allowed \\['auto', 'executed'\\]"):
        LatencyPredictor(space=toy, view="every_edge")
    with pytest.raises(Exception, match="predictor space 'no_such_space' unknown; known spaces"):
        LatencyPredictor(space="no_such_space")


def test_no_code_outside_a_spaces_module_tests_a_space_name():
    names = "nb201|nb201_net|mobilenet|signal1d"
    pattern = re.compile(rf"""(\.name\s*[!=]=\s*["']({names})["'])|(["']({names})["']\s*[!=]=)|(==\s*["']({names})["'])""")
    hits = []
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC).as_posix()
        for i, line in enumerate(path.read_text().splitlines(), start=1):
            if pattern.search(line) and not rel.startswith("spaces/"):
                hits.append(f"{rel}:{i}: {line.strip()}")
    assert hits == []
