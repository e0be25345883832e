"""Weight-sharing options: kernel transformation matrices, channel sorting, per-depth classifier."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from hwnas.core.errors import ConfigError, DataError
from hwnas.data import get_dataset
from hwnas.spaces.elastic import ElasticConv
from hwnas.spaces.mobilenet import MobileNetSpace
from hwnas.spaces.signal1d import Signal1DSpace
from hwnas.supernet.checkpoint import load_checkpoint, save_checkpoint
from hwnas.supernet.settings import TrainingConfig
from hwnas.supernet.train import SupernetTrainer, make_optimizer

torch.set_num_threads(1)  # tiny models: one thread is fastest and kind to a shared machine


def _tiny(**kw):
    return MobileNetSpace(stem=4, stages=((4, 2, 2), (6, 1, 2)), head=8, widths=(0.5, 1.0), **kw)


def _perturb_transforms(net, scale=0.2):
    with torch.no_grad():
        for name, p in net.named_parameters():
            if "ktrans" in name:
                p.add_(scale * torch.randn_like(p))


def test_kernel_transform_starts_as_centre_crop_then_chains_matrices():
    torch.manual_seed(0)
    plain = ElasticConv(2, 3, 4, 7)
    tr = ElasticConv(2, 3, 4, 7, kernels=(3, 5, 7))
    tr.weight.data.copy_(plain.weight.data)
    assert sorted(tr.ktrans.keys()) == ["5to3", "7to5"]
    x = torch.randn(2, 3, 9, 9)
    for k in (3, 5, 7):  # identity matrices: exactly the plain centre crop
        assert torch.allclose(tr(x, 4, k), plain(x, 4, k))
    _perturb_transforms(tr)
    w5 = F.linear(tr.weight[:4, :3, 1:6, 1:6].reshape(-1, 25), tr.ktrans["7to5"]).reshape(4, 3, 5, 5)
    w3 = F.linear(w5[..., 1:4, 1:4].reshape(-1, 9), tr.ktrans["5to3"]).reshape(4, 3, 3, 3)
    assert torch.allclose(tr.active_weight(3, 4, 5), w5)
    assert torch.allclose(tr.active_weight(3, 4, 3), w3)
    assert not torch.allclose(tr(x, 4, 3), plain(x, 4, 3))  # the matrices act
    assert torch.allclose(tr.export(3, 4, 3)(x), tr(x, 4, 3), atol=1e-6)
    assert torch.allclose(tr(x, 4, 7), plain(x, 4, 7))  # the largest kernel is never transformed
    with pytest.raises(ValueError):
        ElasticConv(2, 3, 4, 7, kernels=(3, 5))  # must include the largest


@pytest.mark.parametrize("space", [_tiny(kernel_transform=True),
                                   Signal1DSpace(conv_channels=(4, 8), fc_widths=(8, 16), kernel_transform=True,
                                                 classifier_per_depth=True),
                                   Signal1DSpace(conv_channels=(4, 6, 8), fc_widths=(8, 16),
                                                 first_conv_per_width=True),
                                   Signal1DSpace(conv_channels=(4, 8), fc_widths=(8, 16), max_fc=3,
                                                 split_fc_depth=True)], ids=lambda s: s.name)
def test_sharing_options_extract_exactly_and_keep_the_standalone_networks(space, tmp_path):
    torch.manual_seed(0)
    net = space.build_supernet().eval()
    _perturb_transforms(net)
    rng = np.random.default_rng(0)
    x = torch.randn(3, *space.input_shape)
    for arch in [space.largest(), space.smallest()] + [space.canonical(space.sample(rng)) for _ in range(6)]:
        assert torch.allclose(net.extract(arch)(x), net(x, arch), atol=1e-5)
    # the option is part of the supernet's identity but not of the networks' (benchmark references)
    default = type(space)(**{k: v for k, v in space.options().items() if k not in space.supernet_only_options})
    assert space.describe() != default.describe()
    assert space.describe_networks() == default.describe_networks() == default.describe()
    a = space.canonical(space.sample(rng))
    assert [p.shape for p in space.build(a).parameters()] == [p.shape for p in default.build(a).parameters()]
    # a checkpoint of the default supernet is refused by the option's supernet, with a clear message
    ck = save_checkpoint(tmp_path / "default.safetensors", default.build_supernet())
    with pytest.raises(DataError, match="options"):
        load_checkpoint(ck, net)
    with pytest.raises(ConfigError, match="kernel_transform"):
        type(space)(kernel_transform="yes")


def test_signal1d_classifier_per_depth_gives_each_fc_depth_its_own_matrix():
    s = Signal1DSpace(conv_channels=(4, 8), fc_widths=(8, 16), classifier_per_depth=True)
    net = s.build_supernet()
    x = torch.randn(4, 1, 40)
    for n_fc, own, other in ((1, net.classifier, net.deep_classifiers[0]), (2, net.deep_classifiers[0], net.classifier)):
        net.zero_grad()
        net(x, s.canonical(dict(s.largest(), n_fc=n_fc))).sum().backward()
        assert own.weight.grad.abs().sum() > 0 and other.weight.grad is None
    assert not hasattr(Signal1DSpace().build_supernet(), "deep_classifiers")  # default: one shared, as before
    assert "classifier_per_depth" not in Signal1DSpace().options()


def test_signal1d_first_conv_per_width_trains_only_the_chosen_widths_layer():
    s = Signal1DSpace(conv_channels=(4, 6, 8), fc_widths=(8, 16), first_conv_per_width=True)
    net = s.build_supernet()
    assert sorted(net.first_convs) == ["4", "6"] and net.first_convs["4"].weight.shape[0] == 4
    x = torch.randn(4, 1, 40)
    for width, own in ((4, net.first_convs["4"]), (6, net.first_convs["6"]), (8, net.convs[0])):
        net.zero_grad()
        net(x, s.canonical(dict(s.largest(), conv1_channels=width))).sum().backward()
        others = [m for m in (net.first_convs["4"], net.first_convs["6"], net.convs[0]) if m is not own]
        assert own.weight.grad.abs().sum() > 0 and all(m.weight.grad is None for m in others)
        assert net.convs[1].weight.grad.abs().sum() > 0  # the later layers stay shared
    assert not hasattr(Signal1DSpace().build_supernet(), "first_convs")  # default: sliced, as before
    assert "first_conv_per_width" not in Signal1DSpace().options()
    with pytest.raises(ConfigError, match="first_conv_per_width"):
        Signal1DSpace(first_conv_per_width=1)


def test_signal1d_split_fc_depth_shares_only_the_convs_between_fc_depths():
    s = Signal1DSpace(conv_channels=(4, 8), fc_widths=(8, 16), split_fc_depth=True)
    net = s.build_supernet()
    x = torch.randn(4, 1, 40)
    shallow = (net.first_fc[3], net.classifier)
    deep = (net.deep_first_fc[0][3], net.deep_classifiers[0])
    for n_fc, own, other in ((1, shallow, deep), (2, deep, shallow)):
        net.zero_grad()
        net(x, s.canonical(dict(s.largest(), n_fc=n_fc))).sum().backward()
        assert all(m.weight.grad.abs().sum() > 0 for m in own) and all(m.weight.grad is None for m in other)
        assert net.convs[0].weight.grad.abs().sum() > 0
    assert not hasattr(Signal1DSpace().build_supernet(), "deep_first_fc")
    assert "split_fc_depth" not in Signal1DSpace().options()
    with pytest.raises(ConfigError, match="split_fc_depth"):
        Signal1DSpace(split_fc_depth="no")


def test_sort_channels_keeps_the_largest_network_and_moves_optimizer_state():
    torch.manual_seed(0)
    space = _tiny(kernel_transform=True)
    net = space.build_supernet()
    opt = make_optimizer(net.parameters(), TrainingConfig())
    x = torch.randn(16, 1, 8, 8)
    net.train()
    for _ in range(3):  # some training so that the weights and Adam moments are not symmetric
        opt.zero_grad()
        net(x, space.largest()).square().mean().backward()
        opt.step()
    block = net.blocks[0][0]
    before = block.project.weight.abs().sum(dim=(0, 2, 3))
    moment = opt.state[block.expand.weight]["exp_avg"].clone()
    expand = block.expand.weight.clone()
    net.eval()
    with torch.no_grad():
        y0 = net(x, space.largest())
    net.sort_channels(opt)
    with torch.no_grad():
        y1 = net(x, space.largest())
    assert torch.allclose(y0, y1, atol=1e-5)  # same function, channels only reordered
    after = block.project.weight.abs().sum(dim=(0, 2, 3))
    assert torch.all(after[:-1] >= after[1:])  # most important first
    perm = torch.argsort(before, descending=True, stable=True)
    assert not torch.equal(perm, torch.arange(len(perm)))  # the test really reorders something
    assert torch.equal(block.expand.weight, expand[perm])
    assert torch.equal(opt.state[block.expand.weight]["exp_avg"], moment[perm])  # moments follow their weights


def test_trainer_sorts_channels_each_epoch_and_fingerprint_omits_the_default():
    digits = get_dataset("digits")
    space = _tiny()
    cfg = TrainingConfig(epochs=1, batch_size=256, sandwich_random=0)
    assert "sort_channels" not in SupernetTrainer(space.build_supernet(), digits, cfg).fingerprint()["training"]
    torch.manual_seed(0)
    net = space.build_supernet()
    tr = SupernetTrainer(net, digits, cfg.model_copy(update={"sort_channels": True}))
    assert tr.fingerprint()["training"]["sort_channels"] is True
    tr.train()
    for stage in net.blocks:
        for block in stage:
            imp = block.project.weight.abs().sum(dim=(0, 2, 3))
            assert torch.all(imp[:-1] >= imp[1:])


def test_sandwich_max_per_adds_the_largest_network_at_each_other_value():
    m1d = get_dataset("mnist1d")
    space = Signal1DSpace(conv_channels=(4, 8), fc_widths=(8, 16), max_fc=3)
    cfg = TrainingConfig(epochs=1, batch_size=256, sandwich_random=1)
    plain = SupernetTrainer(space.build_supernet(), m1d, cfg)
    assert "sandwich_max_per" not in plain.fingerprint()["training"]  # default left out: older checkpoints resume
    tr = SupernetTrainer(space.build_supernet(), m1d, cfg.model_copy(update={"sandwich_max_per": "n_fc"}))
    assert tr.fingerprint()["training"]["sandwich_max_per"] == "n_fc"
    archs = tr.sample_archs(np.random.default_rng(0), 0)
    largest = space.largest()
    assert archs[0] == largest and archs[1] == space.smallest()
    assert archs[2:4] == [space.canonical(dict(largest, n_fc=1)), space.canonical(dict(largest, n_fc=2))]
    assert len(archs) == 5  # plus one random sub-network
    with pytest.raises(DataError, match="sandwich_max_per"):
        SupernetTrainer(space.build_supernet(), m1d, cfg.model_copy(update={"sandwich_max_per": "depth"}))
