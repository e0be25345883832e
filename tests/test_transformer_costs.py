"""Attention in every cost model: count, roofline, accelerator (systolic GEMMs + vector unit), LUT kernels,
SCALE-Sim GEMM topologies, ONNX timing of token-id inputs, and no BN recalibration for transformers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hwnas.core.errors import CostModelError
from hwnas.core.layers import Layer
from hwnas.costs.accelerator import AcceleratorConfig, AcceleratorModel, gemm_of
from hwnas.costs.count import CountModel
from hwnas.costs.lut import group_kernels, kernel_module
from hwnas.costs.roofline import RooflineModel
from hwnas.costs.systolic import GemmShape, compute_cycles
from hwnas.costs.topology import layers_to_gemm_rows, read_topology, write_gemm_topology
from hwnas.export.onnx import example_input, ort_session, session_feed, to_onnx_bytes
from hwnas.spaces import get_space
from hwnas.supernet.calibrate import recalibrate_bn


@pytest.fixture(scope="module")
def text():
    return get_space("text_encoder", vocab_size=30, input_shape=[10])


def test_matmul_layer_counts():
    # QK^T of 4 heads, 10 tokens, head size 8: in_channels = heads * K, out_channels = heads * N
    layer = Layer("matmul", 4 * 8, 4 * 10, in_w=10, groups=4)
    assert layer.macs == 4 * 10 * 10 * 8
    assert layer.params == 0
    assert layer.input_elements == 4 * 10 * 8 and layer.rhs_elements == 4 * 8 * 10
    assert layer.output_elements == 4 * 10 * 10
    assert gemm_of(layer) == (GemmShape(10, 10, 8), 4)
    with pytest.raises(CostModelError, match="groups=3"):
        Layer("matmul", 32, 40, in_w=10, groups=3)
    emb = Layer("embedding", 30, 16, in_w=10)
    assert (emb.params, emb.input_elements, emb.output_elements, emb.macs) == (480, 10, 160, 0)
    assert Layer("layernorm", 16, 16, in_w=10).params == 32


def test_every_cost_model_costs_a_transformer(text):
    w = text.workload(text.largest())
    counted = CountModel().cost(w)
    assert counted["macs"] == sum(layer.macs for layer in w.layers) > 0
    roof = RooflineModel().cost(w)
    assert roof["latency_ms"] > 0
    acc = AcceleratorModel(preset="edge_npu").cost(w)
    assert acc["cycles"] > 0 and acc["energy_mj"] > 0
    # more heads: more attention work in every model
    fewer = text.workload({**text.largest(), **{f"l{i}_heads": 1 for i in range(1, 4)}})
    assert CountModel().cost(fewer)["macs"] < counted["macs"]
    assert RooflineModel().cost(fewer)["latency_ms"] < roof["latency_ms"]
    assert AcceleratorModel(preset="edge_npu").cost(fewer)["cycles"] < acc["cycles"]


def test_accelerator_costs_attention_products_per_head_and_refuses_what_it_cannot_run(text):
    layers = text.layers(text.largest())
    model = AcceleratorModel(AcceleratorConfig(rows=8, cols=8, dataflow="os", vector_lanes=4))
    for layer in (x for x in layers if x.op == "matmul"):
        g, heads = gemm_of(layer)
        assert model.cost_layer(layer).compute_cycles == compute_cycles(g, 8, 8, "os") * heads
        assert model.cost_layer(layer).unit == "array"
    soft = next(x for x in layers if x.op == "softmax")
    assert model.cost_layer(soft).unit == "vector"
    assert model.cost_layer(soft).vector_ops == 3 * soft.output_elements  # max, exp + sum, divide
    no_vector = AcceleratorModel(AcceleratorConfig(rows=8, cols=8))
    with pytest.raises(CostModelError, match="'embedding'"):
        no_vector.cost(text.workload(text.largest()))
    fused = AcceleratorModel(AcceleratorConfig(rows=8, cols=8, vector_lanes=4, fused_ops=("gelu", "layernorm")))
    gelu = next(x for x in layers if x.op == "gelu")
    assert fused.cost_layer(gelu).unit == "fused"


def test_gemm_topology_round_trip(text, tmp_path):
    layers = text.layers(text.largest())
    rows, owners, skipped = layers_to_gemm_rows(layers)
    gemm_layers = [i for i, x in enumerate(layers) if x.op in ("linear", "matmul")]
    assert sorted(set(owners)) == gemm_layers
    heads = text.largest()["l1_heads"]
    assert sum(1 for r in rows if r.name.endswith("_h0")) == 2 * text.largest()["depth"]  # QK^T and AV per layer
    assert sum(1 for r in rows if "_h" in r.name) == 2 * heads * text.largest()["depth"]
    assert any(name.endswith("attn.softmax") for name in skipped)  # element-wise ops have no GEMM row
    back = read_topology(write_gemm_topology(rows, tmp_path / "t.csv"))
    assert [r.gemm() for r in back] == [r.gemm() for r in rows]
    model = AcceleratorModel(AcceleratorConfig(rows=16, cols=16, dataflow="ws"))
    per_row = [rec["compute_cycles"] for rec in model.cost_topology(back)]
    for i in gemm_layers:
        assert model.cost_layer(layers[i]).compute_cycles == sum(c for o, c in zip(owners, per_row) if o == i)


def test_lut_kernels_build_and_run_for_transformers(text):
    vit = get_space("vit")
    for space in (text, vit):
        layers = space.layers(space.largest())
        kernels = group_kernels(layers)
        assert any(len(k) == 2 and k[0].op == "linear" and k[1].op == "gelu" for k in kernels)
        for kernel in kernels:
            module, shape = kernel_module(kernel)
            with torch.no_grad():
                out = module(example_input(module, shape, seed=0))
            assert out.numel() == kernel[-1].output_elements, kernel


def test_token_id_models_export_and_time_with_int64_inputs(text):
    module = text.build(text.smallest())
    assert module.input_vocab == 30
    sess = ort_session(to_onnx_bytes(module, (1, 10), dynamic_batch=False))
    feed = session_feed(sess, (1, 10))
    assert next(iter(feed.values())).dtype == np.int64
    assert sess.run(None, feed)[0].shape == (1, 2)


def test_transformers_have_no_bn_to_recalibrate(text):
    net = text.build_supernet()
    calls = []
    net.register_forward_hook(lambda *a: calls.append(1))
    recalibrate_bn(net, text.largest(), torch.zeros(64, 10, dtype=torch.int64))
    assert calls == []
    cnn = get_space("signal1d").build_supernet()
    cnn.register_forward_hook(lambda *a: calls.append(1))
    recalibrate_bn(cnn, cnn.space.largest(), torch.zeros(64, 1, 40))
    assert calls  # a CNN with BN is recalibrated (the no-op is for BN-free networks only)
