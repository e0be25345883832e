"""The vit and text_encoder spaces: extraction, canonical form, layer lists, counting, ONNX export, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from hwnas.core.errors import ConfigError, DataError
from hwnas.costs.count import count_layers
from hwnas.export.onnx import export_onnx
from hwnas.spaces import SPACES, get_space
from hwnas.spaces.text_encoder import check_ids

VOCAB = 40


def _space(name: str):
    return get_space(name, vocab_size=VOCAB, input_shape=[12]) if name == "text_encoder" else get_space(name)


def _input(space, n: int, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    if space.name == "text_encoder":
        return torch.randint(0, VOCAB, (n, *space.input_shape), generator=gen)
    return torch.randn((n, *space.input_shape), generator=gen)


def _archs(space, n: int, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    return [space.largest(), space.smallest()] + [space.canonical(space.sample(rng)) for _ in range(n)]


@pytest.fixture(scope="module", params=["vit", "text_encoder"])
def trained_like(request):
    """A supernet of the space with every weight perturbed away from its initial value (so slices differ)."""
    space = _space(request.param)
    torch.manual_seed(0)
    net = space.build_supernet().eval()
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return space, net


def test_spaces_are_registered():
    assert {"vit", "text_encoder"} <= set(SPACES.available())


def test_state_dict_names_are_the_documented_ones():
    vit = get_space("vit").build_supernet().state_dict()
    assert vit["embed.patch.weight"].shape == (32, 1, 2, 2)
    assert vit["embed.cls"].shape == (1, 1, 32) and vit["embed.positions"].shape == (1, 17, 32)
    assert vit["blocks.2.attn.q.weight"].shape == (4 * 8, 32) and vit["blocks.0.attn.out.weight"].shape == (32, 32)
    assert vit["blocks.0.mlp.fc1.weight"].shape == (64, 32) and vit["blocks.0.mlp.fc2.weight"].shape == (32, 64)
    assert {"norm.weight", "head.weight", "blocks.0.norm1.bias", "blocks.0.norm2.weight"} <= set(vit)
    text = get_space("text_encoder", vocab_size=VOCAB, input_shape=[12], max_len=20).build_supernet().state_dict()
    assert text["embed.tokens.weight"].shape == (VOCAB, 32) and text["embed.positions.weight"].shape == (20, 32)
    assert text["pooler.weight"].shape == (32, 32) and text["head.weight"].shape == (2, 32)
    assert {"embed.norm.weight", "blocks.1.attn.k.bias", "blocks.1.attn.v.weight"} <= set(text)


def test_extraction_is_exact_and_onnx_matches(trained_like, tmp_path):
    space, net = trained_like
    x = _input(space, 8)
    for i, arch in enumerate(_archs(space, 3)):
        module = net.extract(arch)
        with torch.no_grad():
            diff = float((module(x) - net(x, arch)).abs().max())
        assert diff <= 1e-5, (arch, diff)
        assert module.training is False
        res = export_onnx(module, (1, *space.input_shape), tmp_path / f"{i}.onnx", tolerance=1e-4)
        assert res.max_abs_diff <= 1e-4


def test_count_equals_torch_flop_counter_and_params_exactly():
    for name in ("vit", "text_encoder"):
        space = _space(name)
        for arch in _archs(space, 3, seed=1):
            module = space.build(arch)
            with FlopCounterMode(display=False) as fc, torch.no_grad():
                module(_input(space, 1))
            counted = count_layers(space.layers(arch))
            assert counted["macs"] == fc.get_total_flops() / 2, (name, arch)
            assert counted["params"] == sum(p.numel() for p in module.parameters()), (name, arch)


def test_width_heads_mlp_and_depth_change_the_network():
    space = get_space("vit")
    base = space.largest()
    macs = count_layers(space.layers(base))["macs"]
    for key, value in (("width", 16), ("depth", 1), ("l1_heads", 1), ("l2_mlp", 32)):
        smaller = space.canonical({**base, key: value})
        assert count_layers(space.layers(smaller))["macs"] < macs, key


def test_attention_products_in_the_layer_list():
    space = get_space("vit")
    arch = space.canonical({**space.smallest(), "width": 24, "depth": 1, "l1_heads": 2, "l1_mlp": 48})
    layers = space.layers(arch)
    ops = [layer.op for layer in layers]
    assert ops[:4] == ["conv", "embedding", "embedding", "add"]  # patches, class token, positions lookup + add
    mm = [layer for layer in layers if layer.op == "matmul"]
    tokens, dh = space.tokens, space.head_dim
    scores, context = mm
    assert (scores.groups, scores.in_w, scores.in_channels, scores.out_channels) == (2, tokens, 2 * dh, 2 * tokens)
    assert scores.macs == 2 * tokens * tokens * dh and context.macs == 2 * tokens * tokens * dh
    assert scores.params == 0 and scores.rhs_elements == 2 * dh * tokens
    soft = next(layer for layer in layers if layer.op == "softmax")
    assert soft.output_elements == 2 * tokens * tokens
    assert [layer.op for layer in layers].count("layernorm") == 3  # norm1, norm2, final norm
    assert any(layer.op == "gelu" and layer.in_channels == 48 for layer in layers)


def test_canonical_merges_dropped_layers_and_vectorised_form_agrees():
    space = get_space("text_encoder")
    a = {**space.largest(), "depth": 1, "l2_heads": 1, "l3_mlp": 32}
    b = {**space.largest(), "depth": 1, "l2_heads": 4, "l3_mlp": 64}
    assert space.key(a) == space.key(b)
    assert space.key({**a, "l1_heads": 1}) != space.key(a)
    genes = space.sample_genes(np.random.default_rng(0), 200)
    rows = np.stack([space.to_genes(space.canonical(space.from_genes(g))) for g in genes])
    assert np.array_equal(space.canonical_genes(genes), rows)


def test_bad_options_are_refused_naming_the_field():
    with pytest.raises(ConfigError, match="patch"):
        get_space("vit", input_shape=[1, 9, 9], patch=2)
    with pytest.raises(ConfigError, match="max_len"):
        get_space("text_encoder", input_shape=[32], max_len=16)
    with pytest.raises(ConfigError, match="heads"):
        get_space("vit", heads=[0, 2])
    with pytest.raises(ConfigError, match="input_shape"):
        get_space("text_encoder", input_shape=[1, 32])


def test_token_ids_out_of_range_or_too_long_name_the_sample():
    ids = torch.zeros(5, 8, dtype=torch.int64)
    ids[3, 2] = 50
    with pytest.raises(DataError, match="sample 3"):
        check_ids(ids, vocab_size=50, max_len=8)
    with pytest.raises(DataError, match="max_len=6"):
        check_ids(torch.zeros(2, 8, dtype=torch.int64), vocab_size=50, max_len=6)
    space = get_space("text_encoder", input_shape=[8], vocab_size=50)
    with pytest.raises(DataError, match="longer than the positional embedding"):
        space.build_supernet()(torch.zeros(2, 9, dtype=torch.int64), space.largest())


def test_text_encoder_trains_with_the_sandwich_rule_and_scores_with_the_supernet_evaluator():
    from hwnas.data.base import TaskData
    from hwnas.evaluators.supernet import SupernetEvaluator
    from hwnas.supernet.settings import TrainingConfig
    from hwnas.supernet.train import SupernetTrainer

    gen = torch.Generator().manual_seed(0)
    x = torch.randint(2, 20, (480, 12), generator=gen)
    y = torch.randint(0, 2, (480,), generator=gen)
    x[y == 1, torch.randint(0, 12, (int((y == 1).sum()),), generator=gen)] = 1  # class 1: token 1 somewhere
    data = TaskData("has-token-1", x[:320], y[:320], x[320:400], y[320:400], x[400:], y[400:], 2)
    space = get_space("text_encoder", input_shape=[12], vocab_size=20, widths=[16], depths=[1, 2], heads=[1, 2],
                      mlp_sizes=[32])
    torch.manual_seed(0)
    net = space.build_supernet()
    SupernetTrainer(net, data, TrainingConfig(epochs=8, batch_size=32, lr=0.005, sandwich_random=1)).train()
    evaluator = SupernetEvaluator(net, data, split="test")
    for arch in (space.largest(), space.smallest()):
        assert evaluator.evaluate(arch)["accuracy"] >= 90.0  # attention finds the token wherever it is
