"""The three trainable spaces: extraction equals the supernet, layer lists are faithful, bad archs refused."""

import numpy as np
import pytest
import torch

from hwnas.core.errors import InvalidArchitecture
from hwnas.spaces import get_space
from hwnas.spaces.mobilenet import MobileNetSpace
from hwnas.spaces.nb201 import NB201Space
from hwnas.spaces.nb201_net import NB201NetSpace
from hwnas.spaces.signal1d import Signal1DSpace

torch.set_num_threads(1)  # tiny models: one thread is fastest and kind to a shared machine

SPACES = [
    (MobileNetSpace(stem=4, stages=((4, 1, 2), (6, 2, 2)), head=8), (3, 1, 8, 8)),
    (NB201NetSpace(channels=4), (3, 1, 8, 8)),
    (Signal1DSpace(conv_channels=(4, 8), fc_widths=(8, 16)), (3, 1, 40)),
]


@pytest.mark.parametrize("space,shape", SPACES, ids=lambda s: getattr(s, "name", ""))
def test_extracted_module_equals_supernet_and_layers_are_faithful(space, shape):
    torch.manual_seed(0)
    net = space.build_supernet().eval()
    rng = np.random.default_rng(0)
    x = torch.randn(*shape)
    archs = [space.largest(), space.smallest()] + [space.canonical(space.sample(rng)) for _ in range(4)]
    for arch in archs:
        module = net.extract(arch)
        assert torch.allclose(module(x), net(x, arch), atol=1e-5)
        layers = space.layers(arch)
        assert sum(lay.params for lay in layers) == sum(p.numel() for p in module.parameters())
        convs = [m for m in module.modules() if isinstance(m, (torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Linear))]
        assert len(convs) == sum(lay.op in ("conv", "dwconv", "linear") for lay in layers)
        w = space.workload(arch)
        assert w.input_shape == (1, *space.input_shape) and w.key == space.key(arch)
        built = w.build()
        assert built(torch.zeros(w.input_shape)).shape == (1, space.num_classes)
    big, small = (sum(lay.macs for lay in space.layers(a)) for a in (space.largest(), space.smallest()))
    assert big > small


def test_registered_names():
    for name, cls in (("mobilenet", MobileNetSpace), ("nb201_net", NB201NetSpace), ("signal1d", Signal1DSpace)):
        assert isinstance(get_space(name), cls)


def test_mobilenet_canonical_merges_skipped_blocks_and_counts_layers():
    s = MobileNetSpace()
    a = s.largest()
    a["s1_depth"] = 1
    b = dict(a, s1_b2_kernel=3, s1_b2_expand=3)
    a["s1_b2_kernel"] = 7
    assert s.key(a) == s.key(b)
    layers = s.layers(s.smallest())
    dw = [lay for lay in layers if lay.op == "dwconv"]
    assert all(lay.kernel == 3 and lay.groups == lay.in_channels for lay in dw)
    assert any(lay.op == "add" for lay in s.layers(s.largest()))
    assert {lay.op for lay in layers} >= {"conv", "dwconv", "bn", "relu", "hswish", "gap", "linear"}


def test_mobilenet_refuses_arch_outside_space():
    s = MobileNetSpace()
    a = s.largest()
    a["s1_b1_kernel"] = 9
    with pytest.raises(InvalidArchitecture, match="s1_b1_kernel=9 is not allowed"):
        s.workload(a)
    with pytest.raises(InvalidArchitecture, match="missing"):
        s.canonical({"width": 1.0})


def test_nb201_net_uses_benchmark_strings():
    s, table = NB201NetSpace(), NB201Space()
    text = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"
    assert s.format(s.parse(text)) == text == table.format(table.parse(text))
    assert s.key(text) == table.key(text)
    ops = [lay.op for lay in s.layers(text)]
    assert ops.count("avgpool") == 3 * 1 + 2  # one pool edge in each of 3 cells, plus 2 reduction shortcuts
    with pytest.raises(InvalidArchitecture):
        s.parse("|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|")


def test_signal1d_mlp_and_cnn_members():
    s = Signal1DSpace()
    mlp = s.smallest()
    assert mlp["n_conv"] == 0
    assert [lay.op for lay in s.layers(mlp)] == ["linear", "relu", "linear"]
    cnn = s.largest()
    layers = s.layers(cnn)
    convs = [lay for lay in layers if lay.op == "conv"]
    assert [c.in_w for c in convs] == [40, 20, 10] and all(c.in_h == 1 for c in convs)
    assert layers[[lay.op for lay in layers].index("linear")].in_channels == 32 * 5


def test_signal1d_odd_lengths_and_one_first_fc_matrix_per_conv_depth():
    odd = Signal1DSpace(input_shape=(1, 50), conv_channels=(4,), fc_widths=(8,))  # 50, 25, 13, 7
    net, x, rng = odd.build_supernet().eval(), torch.randn(2, 1, 50), np.random.default_rng(0)
    for _ in range(8):
        arch = odd.canonical(odd.sample(rng))
        assert torch.allclose(net.extract(arch)(x), net(x, arch), atol=1e-5)
        assert sum(lay.params for lay in odd.layers(arch)) == sum(p.numel() for p in net.extract(arch).parameters())
    assert [f.weight.shape[1] for f in net.first_fc] == [50, 4 * 25, 4 * 13, 4 * 7]
    flat = Signal1DSpace(conv_channels=(4,), fc_widths=(8,))
    assert [f.weight.shape[1] for f in flat.build_supernet().first_fc] == [40, 4 * 20, 4 * 10, 4 * 5]
