"""Network rewiring (hwnas.supernet.rewire): the dense function is kept exactly, units that do not matter
go last, and the linear-probe head fits the task."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from hwnas.core.errors import ConfigError
from hwnas.data import get_dataset
from hwnas.spaces import get_space
from hwnas.supernet.rewire import can_rewire, importance, permute, probe_head, rewire

SPACE = {"widths": [8, 16], "depths": [1, 2], "heads": [1, 2, 4], "mlp_sizes": [16, 32], "head_dim": 4}


@pytest.fixture(scope="module")
def text():
    return get_dataset("synthetic_text", task="topic", seq_len=8, num_samples=600)


def _text_net(data, seed=0):
    torch.manual_seed(seed)
    space = get_space("text_encoder", input_shape=[8], num_classes=data.num_classes, vocab_size=64, **SPACE)
    return space.build_supernet()


def test_rewiring_keeps_the_dense_text_encoder_and_reorders_units(text):
    net = _text_net(text)
    x, y = text.x_train, text.y_train
    largest = net.space.largest()
    before = net(text.x_test, largest).detach()
    head = net.head.weight.detach().clone()
    result = rewire(net, x, y, samples=300)
    assert (net(text.x_test, largest).detach() - before).abs().max() <= 1e-5
    # every order is a permutation of its units, and something moved
    sizes = {"channels": 16, "pooled": 16, "heads.0": 4, "heads.1": 4, "neurons.0": 32, "neurons.1": 32}
    assert {k: len(v) for k, v in result.order.items()} == sizes
    for v in result.order.values():
        assert sorted(v.tolist()) == list(range(len(v)))
    assert any((v != torch.arange(len(v))).any() for v in result.order.values())
    # the classifier is the network's own (the probe only measured importance), its inputs reordered
    assert torch.equal(net.head.weight, head[:, result.order["pooled"]])
    # importance is decreasing along the new order
    for k, v in result.importance.items():
        assert (v[result.order[k]].diff() <= 0).all()


def test_units_that_do_not_matter_go_last(text):
    net = _text_net(text)
    with torch.no_grad():  # heads 0 and 1 of layer 0 and neurons 0..9 of layer 1 write nothing
        net.blocks[0].attn.out.weight[:, :2 * 4] = 0
        net.blocks[1].mlp.fc2.weight[:, :10] = 0
    imp = importance(net, text.x_train[:300], text.y_train[:300])
    assert imp["heads.0"][:2].abs().max() == 0 and imp["heads.0"][2:].min() > 0
    result = rewire(net, text.x_train, text.y_train, samples=300)
    assert set(result.order["heads.0"][-2:].tolist()) == {0, 1}
    assert set(result.order["neurons.1"][-10:].tolist()) == set(range(10))
    # the sub-network with 2 heads in layer 0 now holds the two that write something
    assert net.blocks[0].attn.out.weight[:, :8].abs().sum() > 0
    assert net.blocks[0].attn.out.weight[:, 8:].abs().sum() == 0


def test_rewiring_keeps_the_dense_vit():
    data = get_dataset("digits")
    torch.manual_seed(0)
    space = get_space("vit", input_shape=list(data.input_shape), num_classes=10, widths=[16, 32], depths=[1, 2],
                      heads=[2, 4], mlp_sizes=[32, 64], head_dim=8)
    net = space.build_supernet()
    x = data.x_test[:50]
    before = net(x, space.largest()).detach()
    result = rewire(net, data.x_train, data.y_train, samples=300)
    assert "pooled" not in result.order and len(result.order["channels"]) == 32
    assert (net(x, space.largest()).detach() - before).abs().max() <= 1e-5


def test_probe_head_fits_the_task(text):
    net = _text_net(text)
    x, y = text.x_train, text.y_train
    largest = net.space.largest()
    with torch.no_grad():
        fresh = float(F.cross_entropy(net(x, largest), y))
    probe_head(net, x, y, samples=400)
    with torch.no_grad():
        assert float(F.cross_entropy(net(x, largest), y)) < fresh - 0.05
    assert net.head.weight.grad is None


def test_spaces_without_a_rule_are_refused():
    cnn = get_space("mobilenet").build_supernet()
    assert not can_rewire(cnn)
    with pytest.raises(ConfigError, match=r"'mobilenet' space cannot be rewired; spaces that can: \['text_encoder', "
                                          r"'vit'\]"):
        permute("mobilenet", {"stem.weight": torch.zeros(1)}, {}, 8)


def test_a_probed_head_measures_what_the_probe_would(text):
    # probe_head then rewire(probe=False) reads the same classifier the temporary probe would fit
    a, b = _text_net(text), _text_net(text)
    x, y = text.x_train, text.y_train
    probe_head(a, x, y, samples=300)
    probe_head(b, x, y, samples=300)
    with_probe = rewire(a, x, y, samples=300)
    own_head = rewire(b, x, y, samples=300, probe=False)
    for k in with_probe.order:
        assert torch.equal(with_probe.order[k], own_head.order[k])
