"""InstaTune's warm-up and frozen teacher: the first ``warmup_epochs`` train only the largest network; with
``teacher: frozen`` the other sub-networks distill from a copy of the network taken when the warm-up ends,
which survives a resume; settings that cannot work are refused."""

from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError

from hwnas.data import get_dataset
from hwnas.spaces import get_space
from hwnas.supernet.settings import TrainingConfig
from hwnas.supernet.train import SupernetTrainer

SPACE = {"widths": [8, 16], "depths": [1, 2], "heads": [1, 2], "mlp_sizes": [16, 32], "head_dim": 8}


def _setup():
    data = get_dataset("synthetic_text", task="sentiment", seq_len=8, num_samples=300)
    space = get_space("text_encoder", input_shape=[8], num_classes=data.num_classes, vocab_size=64, **SPACE)
    torch.manual_seed(0)
    return space, data


def _record_steps(trainer):
    seen = []
    step = trainer.step

    def spy(x, y, archs):
        seen.append((len(archs), trainer.teacher is not None))
        return step(x, y, archs)

    trainer.step = spy
    return seen


def test_warmup_trains_only_the_largest_then_the_sandwich():
    space, data = _setup()
    cfg = TrainingConfig(epochs=3, batch_size=64, sandwich_random=1, warmup_epochs=1)
    trainer = SupernetTrainer(space.build_supernet(), data, cfg)
    seen = _record_steps(trainer)
    trainer.train()
    per_epoch = trainer.steps_per_epoch
    assert [n for n, _ in seen[:per_epoch]] == [1] * per_epoch
    assert all(n >= 2 for n, _ in seen[per_epoch:]) and len(seen) == 3 * per_epoch
    assert not any(t for _, t in seen)  # inplace: no separate teacher


def test_frozen_teacher_is_the_network_as_the_warmup_left_it_and_survives_a_resume(tmp_path):
    space, data = _setup()
    cfg = TrainingConfig(epochs=3, batch_size=64, sandwich_random=1, warmup_epochs=1, teacher="frozen")
    ckpt = tmp_path / "s.safetensors"
    one = SupernetTrainer(space.build_supernet(), data, cfg, ckpt)
    seen = _record_steps(one)

    class Crash(Exception):
        pass

    def crash_in_third_epoch(done, total, info):
        if info["epoch"] == 3:
            raise Crash

    with pytest.raises(Crash):  # the run stops in its third epoch; the checkpoint holds two
        one.train(progress=crash_in_third_epoch)
    per_epoch = one.steps_per_epoch
    assert [t for _, t in seen] == [False] * per_epoch + [True] * (per_epoch + 1)
    teacher = {k: v.clone() for k, v in one.teacher.state_dict().items()}
    assert any(not torch.equal(teacher[k], v) for k, v in one.net.state_dict().items())  # the net moved on
    assert (tmp_path / "s.teacher.safetensors").exists()
    # a second trainer resumes the same run from the checkpoint and gets the same frozen teacher back
    two = SupernetTrainer(space.build_supernet(), data, cfg, ckpt)
    assert two.resume() == 2
    assert all(torch.equal(teacher[k], v) for k, v in two.teacher.state_dict().items())
    # the teacher's logits are what the sub-networks distill from: they do not change while the net trains
    x = data.x_train[:16]
    before = two.teacher(x, space.largest()).detach().clone()
    two.step(x, data.y_train[:16], [space.largest(), space.smallest()])
    assert torch.equal(before, two.teacher(x, space.largest()))
    assert not torch.equal(before, two.net(x, space.largest()))


def test_frozen_teacher_and_warmup_settings_that_cannot_work_are_refused():
    with pytest.raises(ValidationError, match="warmup_epochs"):
        TrainingConfig(epochs=2, warmup_epochs=2)
    with pytest.raises(ValidationError, match="teacher: frozen"):
        TrainingConfig(epochs=2, teacher="frozen")
    with pytest.raises(ValidationError, match="teacher"):
        TrainingConfig(epochs=2, warmup_epochs=1, teacher="student")
