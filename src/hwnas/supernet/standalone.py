"""Stand-alone training: the networks of a space trained alone, from scratch, as references for a supernet.

A supernet ranks its sub-networks well when their inherited accuracy orders
them as training each one alone would. The references are made here: a plain
module trained with the supernet's optimizer and cosine schedule on the labels
only (:func:`train_standalone`; optionally after a linear learning-rate warm-up,
which post-norm transformers need at a high learning rate), one run per architecture and seed
(:func:`train_alone`: weights and batch order both from the seed, so a run
repeats exactly), keyed for a cache (:func:`alone_key`) by everything that
decides its result, so many supernet variants are scored against one set of runs.
"""

from __future__ import annotations

import hashlib
import json
import math

import torch
import torch.nn.functional as F
import yaml
from pydantic import ValidationError
from torch import nn

from hwnas.core.errors import ConfigError
from hwnas.data.base import TaskData, batches
from hwnas.spaces.trainable import TrainableSpace
from hwnas.supernet.settings import TrainingConfig
from hwnas.supernet.train import cosine_lr, fast_layout, make_optimizer, set_lr

#: what stand-alone training reads from a training config (the rest only concerns the supernet)
STANDALONE_FIELDS = ("batch_size", "lr", "weight_decay", "label_smoothing")
#: enters every cache key; 2: weight initialisation seeded too (1: only the batch order was)
CACHE_VERSION = 2


def check_warmup(warmup: float) -> float:
    """A warm-up fraction in [0, 1); a clear error otherwise."""
    if isinstance(warmup, bool) or not isinstance(warmup, (int, float)) or not 0 <= warmup < 1:
        raise ConfigError(f"stand-alone warmup: {warmup!r} must be a fraction of the steps in [0, 1)")
    return float(warmup)


def warmup_cosine_lr(cfg: TrainingConfig, step: int, total: int, warmup_steps: int) -> float:
    """Linear warm-up to ``cfg.lr`` over ``warmup_steps``, then the cosine decay over the remaining steps;
    with no warm-up steps exactly :func:`~hwnas.supernet.train.cosine_lr`."""
    if step < warmup_steps:
        return cfg.lr * (step + 1) / warmup_steps
    return cosine_lr(cfg, step - warmup_steps, total - warmup_steps)


def train_standalone(module: nn.Module, data: TaskData, cfg: TrainingConfig, seed: int | None = None,
                     epochs: int | None = None, warmup: float = 0.0) -> nn.Module:
    """Train a plain module from scratch with the supernet's optimizer and schedule (labels only).

    ``seed`` fixes the batch order; the initial weights are whatever ``module`` holds (seed the global
    torch RNG before building it for a repeatable run). ``warmup``: the fraction of all steps over which the
    learning rate rises linearly to ``cfg.lr`` before the cosine decay (0: the cosine schedule alone).
    """
    seed = cfg.seed if seed is None else seed
    epochs = epochs or cfg.epochs
    torch.manual_seed(seed)
    opt = make_optimizer(module.parameters(), cfg)
    steps = math.ceil(len(data.y_train) / cfg.batch_size)
    warmup_steps = int(check_warmup(warmup) * epochs * steps)
    module.train()
    for epoch in range(epochs):
        gen = torch.Generator().manual_seed(seed * 100_003 + epoch)
        for i, (xb, yb) in enumerate(batches(data.x_train, data.y_train, cfg.batch_size, gen)):
            set_lr(opt, warmup_cosine_lr(cfg, epoch * steps + i, epochs * steps, warmup_steps))
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(module(fast_layout(xb)), yb, label_smoothing=cfg.label_smoothing).backward()
            opt.step()
    return module.eval()


def train_alone(space: TrainableSpace, data: TaskData, arch: dict, tcfg: TrainingConfig, seed: int,
                warmup: float = 0.0) -> nn.Module:
    """One reference run (``tcfg.epochs`` long, ``warmup`` as in :func:`train_standalone`): initial weights
    and batch order from ``seed``."""
    torch.manual_seed(seed)
    return train_standalone(space.build(arch), data, tcfg, seed=seed, epochs=tcfg.epochs, warmup=warmup)


def alone_key(space: TrainableSpace, data: TaskData, arch: dict, tcfg: TrainingConfig, seed: int,
              warmup: float = 0.0) -> str:
    """Cache key of one reference run: space, data, architecture, seed, epochs, the stand-alone settings and
    the warm-up fraction (entered only when not 0, so runs without a warm-up keep their keys)."""
    ident = {"v": CACHE_VERSION, "space": space.describe(), "data": data.describe(), "arch": space.key(arch),
             "seed": seed, "epochs": tcfg.epochs, "training": {k: getattr(tcfg, k) for k in STANDALONE_FIELDS}}
    if check_warmup(warmup):
        ident["warmup"] = float(warmup)
    return hashlib.sha256(json.dumps(ident, sort_keys=True, default=str).encode()).hexdigest()[:24]


def parse_training(text: str, base: TrainingConfig, what: str = "training") -> TrainingConfig:
    """``base`` with the ``k=v,k=v`` items of ``text`` changed; values read as YAML (``few_shot=null`` unsets)."""
    upd = {}
    for item in filter(None, (s.strip() for s in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or key not in TrainingConfig.model_fields:
            raise ConfigError(f"{what} {text!r}: expected key=value with key one of {sorted(TrainingConfig.model_fields)}")
        upd[key] = yaml.safe_load(value)
    try:
        return TrainingConfig.model_validate({**base.model_dump(), **upd})
    except ValidationError as e:
        raise ConfigError(f"{what} {text!r}: {e}") from None


def parse_alone_training(text: str, base: TrainingConfig) -> TrainingConfig:
    """Stand-alone settings ``base`` with ``k=v`` items changed.

    Only :data:`STANDALONE_FIELDS` and ``epochs`` may change; ``epochs`` (default ``base``'s) is that
    reference's training length, so a tuned reference can choose it per network too.
    """
    for item in filter(None, (s.strip() for s in text.split(","))):
        key = item.partition("=")[0]
        if key not in (*STANDALONE_FIELDS, "epochs"):
            raise ConfigError(f"stand-alone training {text!r}: {key!r} is not a stand-alone setting "
                              f"(one of {[*STANDALONE_FIELDS, 'epochs']})")
    return parse_training(text, base, "stand-alone training")
