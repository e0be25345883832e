"""Batch-norm recalibration, sub-network accuracy and extraction.

Running statistics in a supernet are a blend of every sub-network trained; they
are wrong for any single one (BigNAS, OFA). Before a sub-network is evaluated or
extracted, its BN statistics are recomputed exactly on a fixed calibration set
(mean of the per-batch statistics), in a few no-grad forward passes. A supernet
without batch norm (the transformers: layer norm has no running statistics) has
nothing to recalibrate, and no pass is run.
"""

from __future__ import annotations

import torch
from torch import nn

from hwnas.spaces.elastic import ElasticBatchNorm
from hwnas.spaces.trainable import Supernet


@torch.no_grad()
def recalibrate_bn(net: Supernet, arch: dict, x: torch.Tensor, batch_size: int = 512) -> None:
    """Recompute the BN statistics that ``arch`` uses from inputs ``x`` (train-mode statistics, exact average)."""
    bns = [m for m in net.modules() if isinstance(m, ElasticBatchNorm)]
    if not bns:
        return
    for m in bns:
        m.start_recalibration()
    was_training = net.training
    net.eval()
    try:
        for chunk in x.split(batch_size):
            net(chunk, arch)
    finally:
        for m in bns:
            m.recalibrating = False
        net.train(was_training)


@torch.no_grad()
def scores(model, x: torch.Tensor, y: torch.Tensor, arch: dict | None = None, batch_size: int = 1024) -> dict:
    """Top-1 ``accuracy`` and ``soft_accuracy`` in percent of a plain module (``arch=None``) or a sub-network.

    ``soft_accuracy`` is the mean softmax probability given to the true class: the expected accuracy of
    the network's own predictive distribution. It does not move in steps of one sample, so on a small
    split it separates networks that top-1 accuracy counts as equal; but it also reads each network's
    confidence. As a supernet's ranking of sub-networks it is better than top-1 on digits and worse on
    MNIST-1D (benchmarks/results/supernet.md).
    """
    was_training = model.training
    model.eval()
    correct, soft = 0, 0.0
    try:
        for xb, yb in zip(x.split(batch_size), y.split(batch_size)):
            out = model(xb) if arch is None else model(xb, arch)
            correct += int((out.argmax(-1) == yb).sum())
            soft += float(torch.softmax(out.double(), -1).gather(1, yb[:, None]).sum())
    finally:
        model.train(was_training)
    n = max(1, len(y))
    return {"accuracy": 100.0 * correct / n, "soft_accuracy": 100.0 * soft / n}


def accuracy(model, x: torch.Tensor, y: torch.Tensor, arch: dict | None = None, batch_size: int = 1024) -> float:
    """Top-1 accuracy in percent of a plain module (``arch=None``) or of a supernet's sub-network, in eval mode."""
    return scores(model, x, y, arch, batch_size)["accuracy"]


def extract_subnet(net: Supernet, arch, calib_x: torch.Tensor | None = None) -> nn.Module:
    """A stand-alone module of ``arch`` with inherited weights; BN recalibrated on ``calib_x`` first when given."""
    arch = net.space.canonical(arch)
    if calib_x is not None:
        recalibrate_bn(net, arch, calib_x)
    return net.extract(arch)
