"""InstaTune's warm-up: the first ``warmup_epochs`` train only the largest network, then the sandwich rule;
a warm-up that leaves no sandwich epoch is refused."""

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

    def spy(x, y, archs, *rest):
        seen.append(len(archs))
        return step(x, y, archs, *rest)

    trainer.step = spy
    return seen


def test_warmup_trains_only_the_largest_then_the_sandwich():
    space, data = _setup()
    cfg = TrainingConfig(epochs=3, batch_size=64, sandwich_random=1, warmup_epochs=1)
    trainer = SupernetTrainer(space.build_supernet(), data, cfg)
    seen = _record_steps(trainer)
    trainer.train()
    per_epoch = trainer.steps_per_epoch
    assert seen[:per_epoch] == [1] * per_epoch
    assert all(n >= 2 for n in seen[per_epoch:]) and len(seen) == 3 * per_epoch


def test_a_warmup_that_leaves_no_sandwich_epoch_is_refused():
    with pytest.raises(ValidationError, match=r"warmup_epochs \(2\) must be below epochs \(2\)"):
        TrainingConfig(epochs=2, warmup_epochs=2)


def test_warmup_is_part_of_the_checkpoint_fingerprint_only_when_set():
    space, data = _setup()
    plain = SupernetTrainer(space.build_supernet(), data, TrainingConfig(epochs=2))
    warm = SupernetTrainer(space.build_supernet(), data, TrainingConfig(epochs=2, warmup_epochs=1))
    assert "warmup_epochs" not in plain.fingerprint()["training"]  # checkpoints written before it still resume
    assert warm.fingerprint()["training"]["warmup_epochs"] == 1
