"""One file per part: a toy space, cost model, strategy and evaluator, each defined here and registered by
name (the cost model through the entry-point group of an installed distribution), run from config dicts.

Nothing outside this module changes for them: the registries and the application layer find them.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

import hwnas
from hwnas.core.layers import Layer, Workload
from hwnas.costs.base import CostModel
from hwnas.costs.registry import COST_MODELS
from hwnas.evaluators import EVALUATORS
from hwnas.evaluators.base import Evaluator
from hwnas.spaces import SPACES
from hwnas.spaces.base import ChoiceSpace, Dimension
from hwnas.strategies import STRATEGIES
from hwnas.strategies.base import Strategy


class ToySpace(ChoiceSpace):
    """An MLP: depth and width; its layer list is what cost models read."""

    name = "toy_mlp"

    def __init__(self, widths=(8, 16, 32)):
        self.widths = tuple(widths)
        super().__init__([Dimension("depth", (1, 2, 3)), Dimension("width", self.widths)])

    def workload(self, arch) -> Workload:
        arch = self.validate(arch)
        layers, c = [], 4
        for i in range(arch["depth"]):
            layers.append(Layer("linear", c, arch["width"], name=f"fc{i}"))
            c = arch["width"]
        layers.append(Layer("linear", c, 2, name="out"))
        return Workload(self.key(arch), layers, (1, 4))


class ToyQuality(Evaluator):
    """A made-up accuracy that grows with the number of weights; ``bias`` shifts it."""

    metrics = ("score",)

    def __init__(self, bias: float = 0.0, *, space):
        self.bias, self.space = bias, space

    def evaluate(self, arch) -> dict[str, float]:
        params = sum(lay.in_channels * lay.out_channels for lay in self.space.workload(arch).layers)
        return {"score": self.bias + float(np.log(params))}

    def describe(self) -> dict:
        return {"type": "toy_quality", "bias": self.bias}


class ToyCost(CostModel):
    """Cost = layers x ``per_layer`` (installed through an entry point, not registered in code)."""

    name = "toy_cost"
    units = {"toy_ms": "ms"}

    def __init__(self, per_layer: float = 1.0):
        self.per_layer = per_layer

    def cost(self, workload: Workload) -> dict[str, float]:
        return {"toy_ms": self.per_layer * sum(lay.out_channels for lay in workload.layers)}


class ToyStrategy(Strategy):
    """Proposes the space's architectures in enumeration order (every ``step``-th first)."""

    name = "toy_sweep"

    def __init__(self, step: int = 1):
        self.step = step

    def setup(self, space, objectives, constraints=(), seed=0) -> None:
        super().setup(space, objectives, constraints, seed)
        genes = space.enumerate_genes(20_000)
        order = list(range(0, len(genes), self.step)) + [i for i in range(len(genes)) if i % self.step]
        self.queue = [space.from_genes(genes[i]) for i in order]

    def ask(self, n: int):
        fresh = [a for a in self.queue if self.space.key(a) not in self.seen]
        return fresh[:n] or fresh[:1]

    def options(self) -> dict:
        return {"step": self.step}


@pytest.fixture
def toys(tmp_path, monkeypatch):
    """Register the space, evaluator and strategy in code; install the cost model as a distribution."""
    SPACES.register("toy_mlp", ToySpace)
    EVALUATORS.register("toy_quality", ToyQuality)
    STRATEGIES.register("toy_sweep", ToyStrategy)
    dist = tmp_path / "toy_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[hwnas.cost_models]\ntoy_cost = {__name__}:ToyCost\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert __name__ in sys.modules  # the entry point loads this module's ToyCost
    yield
    for registry, name in ((SPACES, "toy_mlp"), (EVALUATORS, "toy_quality"), (STRATEGIES, "toy_sweep"),
                           (COST_MODELS, "toy_cost")):
        registry.unregister(name)


def _config(**over) -> dict:
    cfg = {"space": {"name": "toy_mlp", "options": {"widths": [8, 16]}},
           "evaluator": {"name": "toy_quality", "options": {"bias": 1.0}},
           "targets": [{"name": "toy_cost", "options": {"per_layer": 0.5}, "prefix": "dev_"}],
           "objectives": ["score:max", "dev_toy_ms:min"],
           "strategy": {"name": "toy_sweep", "options": {"step": 2}},
           "study": {"storage": None, "budget": 6}}
    cfg.update(over)
    return cfg


def test_a_search_runs_with_every_toy_part_from_a_config_dict(toys):
    assert "toy_cost" in COST_MODELS.available()  # found through the installed distribution's metadata
    result = hwnas.run(_config())
    study = result.study
    assert study.space.name == "toy_mlp" and study.space.size == 6 and study.n_evaluated == 6
    assert type(study.strategy) is ToyStrategy and study.strategy.step == 2
    # every architecture carries the toy evaluator's and the toy cost model's metrics
    for t in study.trials:
        layers = study.space.workload(t.arch).layers
        assert t.metrics["dev_toy_ms"] == pytest.approx(0.5 * sum(lay.out_channels for lay in layers))
        assert t.metrics["score"] == pytest.approx(1.0 + np.log(sum(x.in_channels * x.out_channels for x in layers)))
    # the strategy's order: every second architecture of the enumeration first
    genes = study.space.enumerate_genes(1000)
    assert [t.key for t in study.trials[:3]] == [study.space.key(study.space.from_genes(genes[i])) for i in (0, 2, 4)]
    assert result.rows and {"arch", "score", "dev_toy_ms"} <= set(result.rows[0])
    assert {r["arch"] for r in result.rows} == {study.space.format(t.arch) for t in study.pareto_front()}


def test_toy_parts_one_at_a_time_beside_builtins(toys, synthetic_nb201_table, tmp_path):
    """Each toy part alone, the rest built-in: the toy strategy on a built-in space and table evaluator,
    the toy cost model beside the built-in count model."""
    synthetic_nb201_table.to_csv(tmp_path / "t.csv", index=False)
    r = hwnas.run({"space": "nb201", "evaluator": {"name": "table", "options": {"path": "t.csv"}},
                   "objectives": ["acc:max", "lat_ms:min"], "strategy": {"name": "toy_sweep"},
                   "study": {"storage": None, "budget": 5}}, base=tmp_path)
    assert r.study.n_evaluated == 5 and type(r.study.strategy) is ToyStrategy
    r = hwnas.run(_config(evaluator=None, strategy={"name": "random"},
                          targets=[{"name": "toy_cost"}, {"name": "count", "options": {"precisions": ["fp32"]}}],
                          objectives=["params:max", "toy_ms:min"]))
    assert all(t.metrics["toy_ms"] > 0 and t.metrics["params"] > 0 for t in r.study.trials)


def test_a_toy_part_with_a_wrong_option_is_named(toys):
    from hwnas.core.errors import ConfigError

    with pytest.raises(ConfigError, match=r"evaluator 'toy_quality': unknown option\(s\) \['colour'\]; "
                                          r"allowed: \['bias'\]"):
        hwnas.run(_config(evaluator={"name": "toy_quality", "options": {"colour": "red"}}))
    with pytest.raises(ConfigError, match=r"cost model 'toy_cost': unknown option\(s\) \['per_kernel'\]"):
        hwnas.run(_config(targets=[{"name": "toy_cost", "options": {"per_kernel": 1}}]))
