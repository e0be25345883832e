"""Short fine-tuning of a compressed module on the training split (after quantization or pruning).

The loss is cross-entropy on the labels, or with a ``teacher`` (the uncompressed parent) and ``distill``
> 0 knowledge distillation (Hinton et al., 2015): ``(1 - distill) * CE(labels) + distill * T^2 *
KL(softmax(teacher / T) || softmax(student / T))``, the student matching the parent's softened logits
(:func:`distillation_loss`; ``T^2`` keeps the soft term's gradients on the scale of the hard one's).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from hwnas.core.errors import ConfigError
from hwnas.data.base import TaskData, batches


def check_distill(distill: float, temperature: float) -> None:
    """A distillation weight in [0, 1] and a temperature > 0; a clear error otherwise."""
    if isinstance(distill, bool) or not isinstance(distill, (int, float)) or not 0.0 <= distill <= 1.0:
        raise ConfigError(f"distill={distill!r} must be the weight of the distillation term, in [0, 1] (0: off)")
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not temperature > 0:
        raise ConfigError(f"distill temperature={temperature!r} must be > 0")


def distillation_loss(logits: torch.Tensor, labels: torch.Tensor, teacher_logits: torch.Tensor | None = None,
                      distill: float = 0.0, temperature: float = 4.0, label_smoothing: float = 0.0) -> torch.Tensor:
    """Cross-entropy on ``labels``, mixed with weight ``distill`` with the KL divergence from the teacher's
    logits softened by ``temperature`` (scaled by its square); plain cross-entropy when ``distill`` is 0."""
    ce = F.cross_entropy(logits, labels, label_smoothing=label_smoothing)
    if teacher_logits is None or distill == 0:
        return ce
    t = temperature
    kd = F.kl_div(F.log_softmax(logits / t, -1), F.softmax(teacher_logits.detach() / t, -1), reduction="batchmean")
    return (1.0 - distill) * ce + distill * t * t * kd


def finetune(module: nn.Module, data: TaskData, epochs: int = 2, lr: float = 1e-3, batch_size: int = 128,
             seed: int = 0, teacher: nn.Module | None = None, distill: float = 0.0,
             temperature: float = 4.0) -> nn.Module:
    """Train every parameter (quantizer scales included) with Adam and cosine decay on cross-entropy, or
    with ``teacher`` and ``distill`` > 0 on :func:`distillation_loss`; the batch order comes from ``seed``.
    Returns the module in eval mode."""
    check_distill(distill, temperature)
    if epochs <= 0:
        return module.eval()
    if teacher is not None:
        teacher.eval()
    torch.manual_seed(seed)
    opt = torch.optim.Adam(module.parameters(), lr=lr)
    steps = epochs * math.ceil(len(data.y_train) / batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    module.train()
    for epoch in range(epochs):
        gen = torch.Generator().manual_seed(seed * 100_003 + epoch)
        for xb, yb in batches(data.x_train, data.y_train, batch_size, gen):
            opt.zero_grad(set_to_none=True)
            soft = None
            if teacher is not None and distill > 0:
                with torch.no_grad():
                    soft = teacher(xb)
            distillation_loss(module(xb), yb, soft, distill, temperature).backward()
            opt.step()
            sched.step()
    return module.eval()
