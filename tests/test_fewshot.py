"""Few-shot supernets: one supernet per value of a dimension, routed by the architecture, trained in turn."""

import numpy as np
import pytest
import torch

from hwnas.app.train import build_seeded_supernet
from hwnas.core.errors import ConfigError, DataError, InvalidArchitecture
from hwnas.data import get_dataset
from hwnas.evaluators.supernet import SupernetEvaluator
from hwnas.spaces.signal1d import Signal1DSpace
from hwnas.supernet.calibrate import accuracy
from hwnas.supernet.fewshot import FewShotSupernet, make_supernet
from hwnas.supernet.settings import TrainingConfig
from hwnas.supernet.train import SupernetTrainer

torch.set_num_threads(1)


def _space():
    return Signal1DSpace(conv_channels=(4, 8), fc_widths=(8, 16))


@pytest.fixture(scope="module")
def m1d():
    return get_dataset("mnist1d")


def _params(net, shot):
    return {k: v.detach().clone() for k, v in net.shots[shot].named_parameters()}


def test_routes_each_architecture_to_its_own_shot_and_shares_nothing_between_shots():
    space = _space()
    torch.manual_seed(0)
    net = make_supernet(space, "n_conv")
    assert isinstance(net, FewShotSupernet) and net.values == (0, 1, 2, 3) and net.n_shots == 4
    assert isinstance(make_supernet(space), type(space.build_supernet()))  # no split: the plain supernet
    x = torch.randn(5, 1, 40)
    arch = space.canonical(dict(space.largest(), n_conv=2))
    net(x, arch).sum().backward()
    grads = [[p.grad is not None for p in shot.parameters()] for shot in net.shots]
    assert any(grads[2]) and not any(grads[0] + grads[1] + grads[3])  # only shot n_conv=2 is touched
    # the shots hold different weights for the same sub-network (independently initialised)
    a, b = net.shots[1](x, arch), net.shots[2](x, arch)
    assert not torch.allclose(a, b)
    assert torch.equal(net(x, arch), b)
    net.eval()
    with torch.no_grad():
        assert torch.allclose(net.extract(arch)(x), net(x, arch), atol=1e-6)
    with pytest.raises(InvalidArchitecture, match=r"n_conv=7 is not allowed; choose one of \[0, 1, 2, 3\]"):
        net(x, dict(arch, n_conv=7))
    with pytest.raises(ConfigError, match=r"few_shot: 'depth' is not a dimension .*n_conv"):
        make_supernet(space, "depth")


def test_trainer_trains_the_shots_in_turn_each_with_its_own_sandwich(m1d):
    space = _space()
    cfg = TrainingConfig(epochs=1, batch_size=512, sandwich_random=2, few_shot="n_conv")
    torch.manual_seed(0)
    net = make_supernet(space, "n_conv")
    tr = SupernetTrainer(net, m1d, cfg)
    assert tr.n_shots == 4 and tr.fingerprint()["training"]["few_shot"] == "n_conv"
    rng = np.random.default_rng(0)
    for shot, value in enumerate(net.values):
        archs = tr.sample_archs(rng, shot)
        assert all(a["n_conv"] == value for a in archs)
        assert archs[0] == space.canonical(dict(space.largest(), n_conv=value))  # the shot's own teacher
        assert archs[1] == space.canonical(dict(space.smallest(), n_conv=value))
    # one step inside shot 1 changes shot 1 only (the optimizer skips the shots without gradients)
    before = [_params(net, s) for s in range(4)]
    x, y = m1d.x_train[:64], m1d.y_train[:64]
    tr.step(x, y, tr.sample_archs(rng, 1))
    for s in range(4):
        changed = any(not torch.equal(v, _params(net, s)[k]) for k, v in before[s].items())
        assert changed == (s == 1), s
    # a whole epoch (8 steps, 2 per shot) trains every shot
    before = [_params(net, s) for s in range(4)]
    tr.train()
    for s in range(4):
        assert any(not torch.equal(v, _params(net, s)[k]) for k, v in before[s].items()), s
    ev = SupernetEvaluator(net, m1d, "val", calib_samples=256)
    for value in net.values:
        arch = space.canonical(dict(space.largest(), n_conv=value))
        assert accuracy(ev.extract(arch), m1d.x_val, m1d.y_val) == pytest.approx(ev.evaluate(arch)["accuracy"])


def test_few_shot_setting_and_network_must_agree_and_checkpoints_are_kept_apart(m1d, tmp_path):
    space = _space()
    cfg = TrainingConfig(epochs=1, batch_size=1024, sandwich_random=0)
    with pytest.raises(DataError, match="few_shot is 'n_conv' but the network is one shared supernet"):
        SupernetTrainer(space.build_supernet(), m1d, cfg.model_copy(update={"few_shot": "n_conv"}))
    with pytest.raises(DataError, match="few_shot is None but the network is split by 'n_fc'"):
        SupernetTrainer(make_supernet(space, "n_fc"), m1d, cfg)
    assert SupernetTrainer(space.build_supernet(), m1d, cfg).fingerprint()["training"]["few_shot"] is None
    ck = tmp_path / "plain.safetensors"
    SupernetTrainer(space.build_supernet(), m1d, cfg, ck).train()
    split = cfg.model_copy(update={"few_shot": "n_fc"})
    with pytest.raises(DataError, match=r"other settings \(differing: \['few_shot'\]\)"):
        SupernetTrainer(make_supernet(space, "n_fc"), m1d, split, ck).train()


def test_seeded_few_shot_supernet_is_repeatable_and_resumes_exactly(m1d, tmp_path):
    space = _space()
    a, b = (build_seeded_supernet(space, 3, "n_fc").state_dict() for _ in range(2))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert any(k.startswith("shots.1.") for k in a)
    cfg = TrainingConfig(epochs=2, batch_size=1024, sandwich_random=1, few_shot="n_fc")
    full = build_seeded_supernet(space, 0, "n_fc")
    SupernetTrainer(full, m1d, cfg).train()
    ck = tmp_path / "ck.safetensors"
    first = build_seeded_supernet(space, 0, "n_fc")

    class Stop(Exception):
        pass

    t1 = SupernetTrainer(first, m1d, cfg, ck)

    def hook(done, total, info):
        if done == t1.steps_per_epoch + 1:
            raise Stop

    with pytest.raises(Stop):
        t1.train(hook)
    resumed = build_seeded_supernet(space, 0, "n_fc")
    assert SupernetTrainer(resumed, m1d, cfg, ck).train().resumed_from == 1
    for k, v in full.state_dict().items():
        assert torch.allclose(v.float(), resumed.state_dict()[k].float(), atol=1e-5), k
