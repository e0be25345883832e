"""Evaluators declare each metric's kind (quality / cost) and unit; strategies read them, never guess."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hwnas.core.errors import ConfigError, DataError
from hwnas.evaluators.base import COST, QUALITY, CombinedEvaluator, Evaluator, MetricKind, kind_from_name
from hwnas.evaluators.cost import CostEvaluator
from hwnas.evaluators.table import TableEvaluator
from hwnas.spaces import get_space

NB201_COLUMNS = ["cifar10_acc", "cifar100_acc", "imagenet16_acc", "pi5_onnx_latency_ms", "pi5_onnx_energy_mj",
                 "pi5_litert_latency_ms", "pi5_litert_energy_mj", "pi5_torchmobile_latency_ms",
                 "pi5_torchmobile_energy_mj"]


def test_names_declare_costs_by_unit_suffix_or_cost_word():
    kinds = {c: kind_from_name(c) for c in NB201_COLUMNS}
    # the NB201 table: the accuracies are qualities, every latency and energy column a cost with its unit
    assert [c for c, k in kinds.items() if not k.is_cost] == ["cifar10_acc", "cifar100_acc", "imagenet16_acc"]
    assert kinds["pi5_onnx_latency_ms"] == MetricKind(COST, "ms")
    assert kinds["pi5_litert_energy_mj"] == MetricKind(COST, "mJ")
    assert kind_from_name("latency") == MetricKind(COST, "")
    assert kind_from_name("model_size") == MetricKind(COST, "")
    assert kind_from_name("params") == MetricKind(COST, "count")
    assert kind_from_name("accuracy") == kind_from_name("soft_accuracy") == MetricKind(QUALITY)
    assert kind_from_name("score") == MetricKind(QUALITY)
    with pytest.raises(ConfigError, match="metric kind 'speed'"):
        MetricKind("speed")


def _frame():
    space = get_space("nb201")
    archs = [space.format(space.from_genes(g)) for g in space.sample_genes(np.random.default_rng(0), 5)]
    return space, pd.DataFrame({"arch": archs, "acc": range(5), "lat": range(5), "speed_ms": range(5)})


def test_table_kinds_come_from_names_unless_given():
    space, frame = _frame()
    ev = TableEvaluator(frame, space)
    kinds = ev.metric_kinds()
    assert kinds["acc"].kind == QUALITY and kinds["lat"] == MetricKind(COST) and kinds["speed_ms"].unit == "ms"
    explicit = TableEvaluator(frame, space, kinds={"lat": "quality", "acc": "cost"}).metric_kinds()
    assert explicit["lat"].kind == QUALITY and explicit["acc"].kind == COST
    with pytest.raises(DataError, match="kinds names column 'nope'.*metrics are"):
        TableEvaluator(frame, space, kinds={"nope": "cost"})
    with pytest.raises(ConfigError, match="metric kind 'fast'"):
        TableEvaluator(frame, space, kinds={"lat": "fast"})


def test_cost_evaluator_declares_its_models_units_and_combined_merges():
    from hwnas.costs.registry import get_cost_model

    model = get_cost_model("roofline")
    ev = CostEvaluator(model, prefix="edge_")
    kinds = ev.metric_kinds()
    assert set(kinds) == set(ev.metrics)
    assert all(k.kind == COST for k in kinds.values())
    assert {m: k.unit for m, k in kinds.items()} == {"edge_" + m: u for m, u in model.units.items()}

    class Quality(Evaluator):
        metrics = ("top1",)

        def evaluate(self, arch):
            return {"top1": 1.0}

        def metric_kinds(self):
            return {"top1": MetricKind(QUALITY)}

    merged = CombinedEvaluator([Quality(), ev]).metric_kinds()
    assert merged["top1"].kind == QUALITY and merged["edge_latency_ms"] == MetricKind(COST, "ms")


def test_supernet_metrics_are_qualities():
    from hwnas.evaluators.supernet import SupernetEvaluator

    ev = SupernetEvaluator.__new__(SupernetEvaluator)  # the declaration needs no trained network
    assert ev.metric_kinds() == {"accuracy": MetricKind(QUALITY), "soft_accuracy": MetricKind(QUALITY)}
