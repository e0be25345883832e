"""Supernet training, extraction accuracy, checkpoints (round trip, wrong space, corrupt file), resume."""

import numpy as np
import pytest
import torch

from hwnas.core.errors import DataError
from hwnas.data import get_dataset
from hwnas.evaluators.supernet import SupernetEvaluator
from hwnas.spaces.mobilenet import MobileNetSpace
from hwnas.spaces.signal1d import Signal1DSpace
from hwnas.supernet.calibrate import accuracy, scores
from hwnas.supernet.checkpoint import load_checkpoint, save_checkpoint
from hwnas.supernet.settings import TrainingConfig
from hwnas.supernet.train import SupernetTrainer

torch.set_num_threads(1)  # tiny models: one thread is fastest and kind to a shared machine


def _tiny_space():
    return MobileNetSpace(stem=4, stages=((4, 2, 2), (6, 1, 2)), head=8, widths=(0.5, 1.0))


@pytest.fixture(scope="module")
def digits():
    return get_dataset("digits")


@pytest.fixture(scope="module")
def trained(digits):
    torch.manual_seed(0)
    space = _tiny_space()
    net = space.build_supernet()
    cfg = TrainingConfig(epochs=2, batch_size=128, lr=1e-2, sandwich_random=1)
    SupernetTrainer(net, digits, cfg).train()
    return space, net


def test_training_learns_and_extracted_accuracy_equals_supernet(trained, digits):
    space, net = trained
    ev = SupernetEvaluator(net, digits, "val", calib_samples=256)
    rng = np.random.default_rng(0)
    archs = [space.largest(), space.smallest()] + [space.canonical(space.sample(rng)) for _ in range(3)]
    accs = []
    for arch in archs:
        acc = ev.evaluate(arch)["accuracy"]
        module = ev.extract(arch)
        assert isinstance(module, torch.nn.Sequential)
        assert accuracy(module, digits.x_val, digits.y_val) == pytest.approx(acc, abs=1e-9)
        with torch.no_grad():
            assert torch.allclose(module(digits.x_val[:64]), net(digits.x_val[:64], arch), atol=1e-5)
        accs.append(acc)
    assert max(accs) > 30.0  # ten classes: chance is 10%; two short epochs already learn
    # the evaluator returns the metrics it declares; soft accuracy is the extracted module's too
    m = ev.evaluate(archs[0])
    assert set(m) == set(ev.metrics) == {"accuracy", "soft_accuracy"}
    assert 0.0 < m["soft_accuracy"] < 100.0
    assert scores(ev.extract(archs[0]), digits.x_val, digits.y_val)["soft_accuracy"] == pytest.approx(
        m["soft_accuracy"], abs=1e-4)


class _Fixed(torch.nn.Module):
    """Returns the logits it was given, row by row (its input is a row index)."""

    def __init__(self, logits):
        super().__init__()
        self.logits = torch.as_tensor(logits, dtype=torch.float32)

    def forward(self, x):
        return self.logits[x.long()]


def test_soft_accuracy_is_the_mean_true_class_probability():
    logits = [[2.0, 0.0, 0.0], [0.5, 0.0, 0.0], [0.0, 3.0, 0.0], [0.0, 0.0, 1.0]]
    model, x, y = _Fixed(logits), torch.arange(4), torch.tensor([0, 0, 1, 1])
    p = torch.softmax(torch.tensor(logits), -1)
    expect = 100 * float(p[torch.arange(4), y].mean())
    for batch_size in (1, 3, 1024):  # batching does not change it
        s = scores(model, x, y, batch_size=batch_size)
        assert s["soft_accuracy"] == pytest.approx(expect, rel=1e-6)
        # top-1: rows 0-2 right (row 1 barely), row 3 predicts 2, not 1
        assert s["accuracy"] == pytest.approx(75.0)
    # two models with the same top-1 accuracy differ in soft accuracy when one is more confident
    sharper = scores(_Fixed([[9.0, 0, 0], [9.0, 0, 0], [0, 9.0, 0], [0, 0, 1.0]]), x, y)
    assert sharper["accuracy"] == pytest.approx(75.0) and sharper["soft_accuracy"] > expect


def test_sandwich_samples_largest_then_smallest_then_random(digits):
    space = _tiny_space()
    cfg = TrainingConfig(epochs=5, sandwich_random=2)
    tr = SupernetTrainer(space.build_supernet(), digits, cfg)
    archs = tr.sample_archs(np.random.default_rng(0))
    assert archs[0] == space.largest() and archs[1] == space.smallest()
    rand = space.sample_genes(np.random.default_rng(0), 2)
    assert archs[2:] == [space.canonical(space.from_genes(g)) for g in rand]
    assert tr.sample_archs(np.random.default_rng(0)) == archs  # seeded: a resumed run samples the same


def test_checkpoint_round_trip_other_space_and_corrupt_file(tmp_path, trained):
    space, net = trained
    path = save_checkpoint(tmp_path / "ck.safetensors", net, meta={"epoch": 2})
    fresh = space.build_supernet()
    assert load_checkpoint(path, fresh)["epoch"] == 2
    for k, v in net.state_dict().items():
        assert torch.equal(v, fresh.state_dict()[k])
    other = MobileNetSpace(stem=4, stages=((4, 2, 2), (6, 1, 3)), head=8, widths=(0.5, 1.0)).build_supernet()
    with pytest.raises(DataError, match="another space options"):
        load_checkpoint(path, other)
    with pytest.raises(DataError, match="another space"):
        load_checkpoint(path, Signal1DSpace().build_supernet())
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    with pytest.raises(DataError, match="bad.safetensors"):
        load_checkpoint(bad, space.build_supernet())
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a checkpoint at all")
    with pytest.raises(DataError, match="not a readable safetensors"):
        load_checkpoint(junk, space.build_supernet())


def test_resume_continues_from_checkpoint_and_matches_uninterrupted(tmp_path, digits):
    space = _tiny_space()
    cfg = TrainingConfig(epochs=2, batch_size=256, sandwich_random=1)
    torch.manual_seed(1)
    full = space.build_supernet()
    init = {k: v.clone() for k, v in full.state_dict().items()}
    SupernetTrainer(full, digits, cfg).train()
    # the same run, interrupted during epoch 2 (after the epoch-1 checkpoint), then resumed by a new trainer
    one = space.build_supernet()
    one.load_state_dict(init)
    ck = tmp_path / "ck.safetensors"
    t1 = SupernetTrainer(one, digits, cfg, ck)

    class Stop(Exception):
        pass

    def hook(done, total, info):
        if done == t1.steps_per_epoch + 1:
            raise Stop

    with pytest.raises(Stop):
        t1.train(hook)
    resumed = space.build_supernet()
    t2 = SupernetTrainer(resumed, digits, cfg, ck)
    result = t2.train()
    assert result.resumed_from == 1
    for k, v in full.state_dict().items():
        assert torch.allclose(v.float(), resumed.state_dict()[k].float(), atol=1e-5), k
    with pytest.raises(DataError, match="other settings"):
        SupernetTrainer(space.build_supernet(), digits, cfg.model_copy(update={"lr": 0.5}), ck).train()
