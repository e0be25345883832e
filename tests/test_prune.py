"""Channel pruning with torch-pruning's dependency graph: residuals and depthwise convs stay consistent,
the pruned module is a smaller dense network, fine-tuning recovers accuracy."""

import pytest
import torch
from torch import nn

from hwnas.compress import COMPRESSORS
from hwnas.compress.prune import channel_count, prune_channels
from hwnas.core.errors import ConfigError
from hwnas.data import get_dataset
from hwnas.spaces.mobilenet import MobileNetSpace
from hwnas.spaces.signal1d import Signal1DSpace
from hwnas.spaces.trace import trace_layers
from hwnas.supernet.calibrate import accuracy


def _mobilenet():
    space = MobileNetSpace()
    torch.manual_seed(0)
    arch = space.largest()  # residual blocks (stage 2, stride 1) and depthwise convs
    return space, space.build(arch)


def test_half_the_channels_go_and_the_network_stays_consistent():
    space, module = _mobilenet()
    pruned = prune_channels(module, 0.5, (1, *space.input_shape))
    assert 0.4 < channel_count(pruned) / channel_count(module) < 0.65
    x = torch.randn(4, *space.input_shape)
    assert pruned(x).shape == (4, 10)  # the classes are never pruned
    for m in pruned.modules():
        if isinstance(m, nn.Conv2d) and m.groups > 1:
            assert m.groups == m.in_channels == m.out_channels  # depthwise convs follow their input
    layers = trace_layers(pruned, (1, *space.input_shape))  # residual adds still join equal shapes
    assert any(layer.op == "add" for layer in layers)
    assert sum(layer.macs for layer in layers) < 0.45 * sum(layer.macs for layer in space.layers(space.largest()))
    assert channel_count(module) == channel_count(space.build(space.largest()))  # the input is left alone


def test_round_to_keeps_whole_blocks_of_channels_and_leaves_narrower_groups_whole():
    space, module = _mobilenet()
    plain = prune_channels(module, 0.5, (1, *space.input_shape))
    rounded = prune_channels(module, 0.5, (1, *space.input_shape), round_to=16)
    assert rounded(torch.randn(2, *space.input_shape)).shape == (2, 10)
    before = {n: m.out_channels for n, m in module.named_modules() if isinstance(m, nn.Conv2d)}
    after = {n: m.out_channels for n, m in rounded.named_modules() if isinstance(m, nn.Conv2d)}
    halved = {n: m.out_channels for n, m in plain.named_modules() if isinstance(m, nn.Conv2d)}
    assert any(c % 16 for c in halved.values())  # without rounding some groups keep counts off the block
    for name, c in after.items():
        if before[name] < 32:  # half of it is under one block: the group stays whole
            assert c == before[name], name
        else:
            assert c % 16 == 0 and c <= before[name] // 2 + 15, (name, before[name], c)
    assert 0.4 < channel_count(rounded) / channel_count(module) < 0.65


@pytest.mark.parametrize("round_to", [0, -16, 2.5, True])
def test_bad_round_to_is_refused(round_to):
    space, module = _mobilenet()
    with pytest.raises(ConfigError, match="round_to"):
        prune_channels(module, 0.5, (1, *space.input_shape), round_to=round_to)
    with pytest.raises(ConfigError, match="compress prune: round_to"):
        COMPRESSORS.create("prune", round_to=round_to)


def test_a_1d_network_is_pruned_too():
    space = Signal1DSpace()
    module = space.build(space.largest())
    pruned = prune_channels(module, 0.5, (1, *space.input_shape))
    assert pruned(torch.randn(2, *space.input_shape)).shape == (2, 10)
    assert channel_count(pruned) < 0.6 * channel_count(module)


@pytest.mark.parametrize("ratio", [0.0, 1.0, -0.5, 1.5])
def test_bad_ratios_are_refused(ratio):
    space, module = _mobilenet()
    with pytest.raises(ConfigError, match=f"ratio={ratio}"):
        prune_channels(module, ratio, (1, *space.input_shape))
    with pytest.raises(ConfigError, match="compress prune: ratio"):
        COMPRESSORS.create("prune", ratio=ratio)


def test_fine_tuning_recovers_the_accuracy_pruning_loses():
    data = get_dataset("digits")
    space = Signal1DSpace(input_shape=(1, 64), max_conv=2, conv_channels=(16,), conv_kernels=(3,),
                          max_fc=1, fc_widths=(64,))
    torch.manual_seed(0)
    trained = COMPRESSORS.create("prune", ratio=0.1, epochs=8).apply(
        space.build(space.largest()), _flat(data)).model  # a trained, barely pruned start
    x, y = _flat(data).split("test")
    step = COMPRESSORS.create("prune", ratio=0.5, epochs=3)
    out = step.apply(trained, _flat(data))
    raw = prune_channels(trained, 0.5, (1, 1, 64))
    assert out.info["prune"] == 0.5 and out.info["params"] < 0.6 * out.info["params_before"]
    assert accuracy(out.model, x, y) > accuracy(raw, x, y) + 1.0
    assert step.describe()["ratio"] == 0.5


def _flat(data):
    """digits as 1 x 64 signals (a signal1d network)."""
    from dataclasses import replace

    return replace(data, x_train=data.x_train.reshape(-1, 1, 64), x_val=data.x_val.reshape(-1, 1, 64),
                   x_test=data.x_test.reshape(-1, 1, 64))
