"""Short fine-tuning of a compressed module on the training split (after quantization or pruning)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from hwnas.data.base import TaskData, batches


def finetune(module: nn.Module, data: TaskData, epochs: int = 2, lr: float = 1e-3, batch_size: int = 128,
             seed: int = 0) -> nn.Module:
    """Train every parameter (quantizer scales included) with Adam and cosine decay on cross-entropy;
    the batch order comes from ``seed``. Returns the module in eval mode."""
    if epochs <= 0:
        return module.eval()
    torch.manual_seed(seed)
    opt = torch.optim.Adam(module.parameters(), lr=lr)
    steps = epochs * math.ceil(len(data.y_train) / batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    module.train()
    for epoch in range(epochs):
        gen = torch.Generator().manual_seed(seed * 100_003 + epoch)
        for xb, yb in batches(data.x_train, data.y_train, batch_size, gen):
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(module(xb), yb).backward()
            opt.step()
            sched.step()
    return module.eval()
