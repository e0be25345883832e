"""Data-parallel supernet training with torch.distributed (DDP; gloo on CPU, any backend elsewhere).

Every rank draws the same batch order and the same sub-networks for each step (both seeded from the
training seed and the epoch and consumed step by step, as Once-for-All and AttentiveNAS do), and takes
its share of the step's global batch (:meth:`Ranks.shard`). The network is wrapped in
``DistributedDataParallel`` with ``find_unused_parameters`` (depth choices skip whole blocks), and its
batch norms compute their statistics over the whole global batch (:class:`SyncElasticBatchNorm`), so
``W`` ranks take the same optimisation step as one process given the same global batch, to float
tolerance. Only rank 0 writes checkpoints; a checkpoint holds no trace of the world size, so training
resumes at any number of ranks.
"""

from __future__ import annotations

import os
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist
import torch.nn as nn

from hwnas.core.errors import ConfigError
from hwnas.spaces.elastic import ElasticBatchNorm


@dataclass(frozen=True)
class Ranks:
    """This process's place in a process group: ``rank`` of ``world_size``."""

    rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def shard(self, n: int) -> tuple[slice, float]:
        """This rank's rows of a global batch of ``n`` rows (contiguous, sizes differ by at most one) and the
        weight of its mean loss, ``n_local * world_size / n``: DDP averages gradients over ranks, so the
        weighted local means average to the global batch's mean even when the shards differ in size."""
        base, extra = divmod(n, self.world_size)
        start = self.rank * base + min(self.rank, extra)
        size = base + (self.rank < extra)
        return slice(start, start + size), size * self.world_size / n


def env_ranks() -> Ranks | None:
    """The ranks torchrun (or any launcher setting ``RANK`` and ``WORLD_SIZE``) gave this process, else None."""
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        return None
    try:
        rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    except ValueError:
        raise ConfigError(f"RANK={os.environ['RANK']!r} / WORLD_SIZE={os.environ['WORLD_SIZE']!r}: not integers") from None
    if not 0 <= rank < world:
        raise ConfigError(f"RANK={rank} is not in 0..WORLD_SIZE-1 (WORLD_SIZE={world})")
    return Ranks(rank, world)


def init_group(ranks: Ranks, init_method: str = "env://", timeout_s: float = 300.0,
               backend: str | None = None) -> None:
    """Join the process group (gloo unless ``backend`` says otherwise); ``timeout_s`` bounds every collective,
    so a rank that died makes the others fail instead of waiting forever."""
    if dist.is_initialized():
        return
    dist.init_process_group(backend or "gloo", init_method=init_method, rank=ranks.rank,
                            world_size=ranks.world_size, timeout=timedelta(seconds=timeout_s))


def wrap(net: nn.Module) -> nn.Module:
    """``net`` inside ``DistributedDataParallel``: gradients averaged over ranks after every backward pass;
    parameters a sub-network does not use (skipped blocks) are found on every pass."""
    from torch.nn.parallel import DistributedDataParallel

    # buffers (batch-norm statistics) are the same on every rank by construction: synchronised statistics
    return DistributedDataParallel(net, find_unused_parameters=True, forward_sync_buffers=False)


def all_reduce(t: torch.Tensor) -> torch.Tensor:
    """Sum of ``t`` over the process group, differentiable (the gradient is summed over ranks as well)."""
    from torch.distributed.nn.functional import all_reduce as differentiable_all_reduce

    with warnings.catch_warnings():  # its suggested successor has no autograd support
        warnings.simplefilter("ignore", FutureWarning)
        return differentiable_all_reduce(t)


class SyncElasticBatchNorm(ElasticBatchNorm):
    """An :class:`ElasticBatchNorm` whose training statistics are those of the global batch (summed over
    the process group with a differentiable all-reduce), so every rank normalises as one process would."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.recalibrating or not (dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(x)
        c = x.shape[1]
        dims = [0, *range(2, x.dim())]
        shape = [1, c] + [1] * (x.dim() - 2)
        count = all_reduce(torch.tensor([x.numel() / c], dtype=x.dtype))
        mean = all_reduce(x.sum(dims)) / count
        centred = x - mean.view(shape)
        var = all_reduce(centred.pow(2).sum(dims)) / count
        with torch.no_grad():
            m = self.momentum
            self.running_mean[:c].mul_(1 - m).add_(m * mean.detach())
            self.running_var[:c].mul_(1 - m).add_(m * var.detach() * count / (count - 1).clamp(min=1))
        out = centred * torch.rsqrt(var + self.eps).view(shape)
        return out * self.weight[:c].view(shape) + self.bias[:c].view(shape)


@contextmanager
def synced_batch_norm(net: nn.Module):
    """Within the block, every :class:`ElasticBatchNorm` of ``net`` uses global-batch statistics; its
    parameters and buffers stay the same tensors (checkpoints are unchanged)."""
    swapped = [m for m in net.modules() if type(m) is ElasticBatchNorm]
    for m in swapped:
        m.__class__ = SyncElasticBatchNorm
    try:
        yield net
    finally:
        for m in swapped:
            m.__class__ = ElasticBatchNorm
