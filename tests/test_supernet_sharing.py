"""Supernet options removed because they did not lift the ranking: refused by name, never silently ignored."""

import pytest
from pydantic import ValidationError

from hwnas.core.errors import ConfigError
from hwnas.data import get_dataset
from hwnas.spaces import get_space
from hwnas.supernet.settings import REMOVED_OPTIONS, TrainingConfig
from hwnas.supernet.train import SupernetTrainer


@pytest.mark.parametrize("key,value", [("progressive_shrinking", True), ("sort_channels", False),
                                       ("sandwich_max_per", "n_fc")])
def test_removed_training_options_are_refused_with_their_name(key, value):
    assert key in REMOVED_OPTIONS
    with pytest.raises(ValidationError, match=f"{key}: removed.*delete the key.*Allowed: .*'few_shot'"):
        TrainingConfig.model_validate({"epochs": 2, key: value})


@pytest.mark.parametrize("space,key,value", [("mobilenet", "kernel_transform", True),
                                             ("signal1d", "kernel_transform", False),
                                             ("signal1d", "classifier_per_depth", True),
                                             ("signal1d", "first_conv_per_width", True),
                                             ("signal1d", "split_fc_depth", True),
                                             ("signal1d", "conv_head", "pool")])
def test_removed_space_options_are_refused_naming_the_allowed_ones(space, key, value):
    with pytest.raises(ConfigError, match=rf"unknown option\(s\) \['{key}'\]; allowed: \['input_shape'"):
        get_space(space, **{key: value})


def test_trainer_fingerprint_is_every_training_setting_but_the_checkpoint_interval():
    digits = get_dataset("digits")
    space = get_space("mobilenet", stem=4, stages=((4, 2, 1),), head=8, widths=(0.5, 1.0))
    cfg = TrainingConfig(epochs=1, batch_size=256)
    fp = SupernetTrainer(space.build_supernet(), digits, cfg).fingerprint()
    # warmup_epochs joins the fingerprint only when set, so checkpoints trained without it still resume
    assert set(fp["training"]) == set(TrainingConfig.model_fields) - {"checkpoint_every", "warmup_epochs"}
    warm = TrainingConfig(epochs=2, batch_size=256, warmup_epochs=1)
    assert SupernetTrainer(space.build_supernet(), digits, warm).fingerprint()["training"]["warmup_epochs"] == 1
    assert fp["training"]["few_shot"] is None and fp["data"] == digits.describe()
