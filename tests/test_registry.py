"""Cost models by name; a missing module breaks only its own name."""

import pytest

from hwnas.core.errors import ConfigError
from hwnas.core.layers import Layer, Workload
from hwnas.costs.accelerator import AcceleratorModel
from hwnas.costs.base import CostModel
from hwnas.costs.count import CountModel
from hwnas.costs.registry import COST_MODELS, get_cost_model
from hwnas.evaluators.cost import CostEvaluator


def test_names_and_construction():
    assert {"count", "measure", "lut", "predictor", "accelerator", "roofline"} <= set(COST_MODELS.available())
    assert isinstance(get_cost_model("count"), CountModel)
    acc = get_cost_model("accelerator", preset="edge_npu")
    assert isinstance(acc, AcceleratorModel) and acc.config.rows == 16
    w = Workload("n", [Layer("conv", 3, 8, 8, 8, kernel=3), Layer("linear", 8 * 64, 10)], (1, 3, 8, 8))
    for name in ("count", "accelerator", "roofline"):
        m = get_cost_model(name)
        assert isinstance(m, CostModel) and m.name == name
        assert set(m.cost(w)) == set(m.units)


def test_every_registered_name_resolves_to_its_class():
    for name in COST_MODELS.available():
        cls = COST_MODELS.get(name)
        assert issubclass(cls, CostModel) and cls.name == name
    measured = get_cost_model("measure", repeats=5)
    assert measured.name == "measure" and "latency_ms" in measured.units


def test_unknown_name_and_bad_options():
    with pytest.raises(ConfigError, match="unknown cost model 'warp'"):
        get_cost_model("warp")
    with pytest.raises(ConfigError, match="'count': unknown option"):
        get_cost_model("count", nonsense=1)


def test_missing_module_breaks_only_its_name(monkeypatch):
    monkeypatch.setitem(COST_MODELS._builtins, "ghost", "hwnas.costs.no_such_module:Ghost")
    with pytest.raises(ConfigError, match="'ghost' is unavailable.*no_such_module"):
        get_cost_model("ghost")
    assert isinstance(get_cost_model("count"), CountModel)


def test_cost_evaluator_over_a_space_like_object():
    class Tiny:
        name = "tiny"

        def workload(self, arch):
            return Workload(str(arch), [Layer("conv", 3, arch, 8, 8, kernel=3)], (1, 3, 8, 8))

    ev = CostEvaluator(get_cost_model("accelerator"), prefix="npu_")
    ev.bind(Tiny())
    small, big = ev.evaluate(8), ev.evaluate(64)
    assert "npu_energy_mj" in small and big["npu_energy_mj"] > small["npu_energy_mj"]
