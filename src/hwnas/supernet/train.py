"""Supernet training: sandwich rule, in-place distillation, few-shot splits, resumable.

Each step trains the largest sub-network on the labels, then the smallest and
``sandwich_random`` random sub-networks on a mix of the labels and the largest
network's soft predictions (in-place distillation, BigNAS), accumulating
gradients for one optimizer step. A few-shot supernet
(:class:`~hwnas.supernet.fewshot.FewShotSupernet`, ``few_shot: DIM``) is trained
shot by shot in turn: step ``i`` runs that sandwich inside shot ``i mod G``
(every sub-network of the step has that shot's value of ``DIM``). A checkpoint (safetensors) is
written every ``checkpoint_every`` epochs; a run that finds one for the same
space, data and settings continues after its last epoch (batch order and
architecture samples are seeded per epoch, so a resumed run follows the same
path as an uninterrupted one).

``warmup_epochs`` (InstaTune) trains only the largest network on the labels for
the first epochs, so a new head settles on pre-trained weights before the
smaller sub-networks distill from it.

Given :class:`~hwnas.supernet.distributed.Ranks` of a joined process group, the trainer is data-parallel
(:mod:`hwnas.supernet.distributed`): every rank takes its share of each global batch of ``batch_size``
rows, draws the same sub-networks, and only rank 0 writes the checkpoint; a last batch with fewer rows
than ranks is skipped (every rank skips it).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed
import torch.nn.functional as F

from hwnas.core.errors import DataError
from hwnas.data.base import TaskData, batches
from hwnas.spaces.trainable import Supernet
from hwnas.supernet.checkpoint import load_checkpoint, read_metadata, save_checkpoint
from hwnas.supernet.distributed import Ranks, synced_batch_norm, wrap
from hwnas.supernet.fewshot import FewShotSupernet
from hwnas.supernet.settings import TrainingConfig

Progress = Callable[[int, int, dict], None]  # (step done, total steps, info)


@dataclass
class TrainResult:
    epochs_done: int
    resumed_from: int | None
    seconds: float
    history: list[dict] = field(default_factory=list)


def make_optimizer(params, cfg: TrainingConfig) -> torch.optim.Optimizer:
    return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


def cosine_lr(cfg: TrainingConfig, step: int, total: int) -> float:
    return 0.5 * cfg.lr * (1 + math.cos(math.pi * min(step, total) / max(1, total)))


def fast_layout(x: torch.Tensor) -> torch.Tensor:
    """Images in channels-last layout: oneDNN's depthwise-conv backward is ~2.5x faster in it on CPU."""
    return x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x


def set_lr(opt: torch.optim.Optimizer, lr: float) -> None:
    for g in opt.param_groups:
        g["lr"] = lr


class SupernetTrainer:
    """Trains ``net`` on ``data`` with the settings ``cfg``, checkpointing to ``checkpoint`` (if given)."""

    def __init__(self, net: Supernet, data: TaskData, cfg: TrainingConfig, checkpoint: str | Path | None = None,
                 init: dict | None = None, ranks: Ranks | None = None):
        self.net, self.data, self.cfg = net, data, cfg
        self.init = init  # what the weights started from (InstaTune: the pre-trained file), part of the fingerprint
        self.ranks = ranks or Ranks()
        self.model = net  # what the steps call: the network itself, or its DDP wrapper while training
        self.space = net.space
        self.checkpoint = Path(checkpoint) if checkpoint is not None else None
        self.optimizer = make_optimizer(net.parameters(), cfg)
        self.steps_per_epoch = math.ceil(len(data.y_train) / cfg.batch_size)
        self.total_steps = cfg.epochs * self.steps_per_epoch
        split = net.dim if isinstance(net, FewShotSupernet) else None
        if split != cfg.few_shot:
            raise DataError(f"supernet.training.few_shot is {cfg.few_shot!r} but the network is "
                            + (f"split by {split!r}" if split else "one shared supernet")
                            + "; build it with hwnas.supernet.fewshot.make_supernet(space, few_shot)")
        self.n_shots = net.n_shots if split else 1
        self._shot_dim = net.dim_index if split else None
        self._largest_genes = self.space.to_genes(self.space.largest())
        self._smallest_genes = self.space.to_genes(self.space.smallest())

    # ------------------------------------------------------------------ identity
    def fingerprint(self) -> dict:
        """What a checkpoint must share with this run to be continued."""
        unset = {"warmup_epochs"} if self.cfg.warmup_epochs == 0 else set()  # as checkpoints without the option
        out = {"training": self.cfg.model_dump(exclude={"checkpoint_every", *unset}), "data": self.data.describe()}
        return out if self.init is None else {**out, "init": self.init}

    # ------------------------------------------------------------------ sampling
    def shot_at(self, step: int) -> int | None:
        """The shot that global step ``step`` trains (few-shot supernets, in turn), or None for a shared supernet."""
        return step % self.n_shots if self.n_shots > 1 else None

    def sample_archs(self, rng: np.random.Generator, shot: int | None = None) -> list[dict]:
        """Largest, smallest and random sub-networks for one step (largest first), canonical.

        ``shot`` (few-shot supernets): every sub-network takes that shot's value of the split dimension, so the
        largest and smallest are those of the shot.
        """
        genes = [self._largest_genes, self._smallest_genes]
        if self.cfg.sandwich_random:
            genes.extend(self.space.sample_genes(rng, self.cfg.sandwich_random))
        if shot is not None and self._shot_dim is not None:
            genes = [g.copy() for g in genes]
            for g in genes:
                g[self._shot_dim] = shot
        out, seen = [], set()
        for g in genes:
            arch = self.space.canonical(self.space.from_genes(g))
            key = self.space.key(arch)
            if key not in seen or not out:  # identical sub-networks in one step add nothing
                seen.add(key)
                out.append(arch)
        return out

    # ------------------------------------------------------------------ training
    def step(self, x: torch.Tensor, y: torch.Tensor, archs: list[dict], weight: float = 1.0) -> float:
        """One sandwich step: ``archs[0]`` is the teacher (largest); returns the teacher's loss.

        ``weight`` scales this process's losses (a rank's share of the global batch, :meth:`Ranks.shard`)."""
        cfg = self.cfg
        self.optimizer.zero_grad(set_to_none=True)
        x = fast_layout(x)
        logits = self.model(x, archs[0])
        loss = F.cross_entropy(logits, y, label_smoothing=cfg.label_smoothing)
        (weight * loss).backward()
        soft = logits.detach().softmax(-1)
        for arch in archs[1:]:
            out = self.model(x, arch)
            ce = F.cross_entropy(out, y, label_smoothing=cfg.label_smoothing)
            kd = F.kl_div(out.log_softmax(-1), soft, reduction="batchmean")
            (weight * ((1 - cfg.distill) * ce + cfg.distill * kd)).backward()
        self.optimizer.step()
        return float(loss.detach())

    def resume(self) -> int:
        """Load the checkpoint if there is one for this run; return the epoch to start from."""
        self.resumed_at = 0  # epochs the checkpoint held when last read
        if self.checkpoint is None or not self.checkpoint.exists():
            return 0
        md = read_metadata(self.checkpoint)
        theirs = md["meta"].get("fingerprint")
        ours = self.fingerprint()
        if theirs != ours:
            diff = sorted(k for k in set(ours["training"]) | set((theirs or {}).get("training", {}))
                          if (theirs or {}).get("training", {}).get(k) != ours["training"].get(k))
            if (theirs or {}).get("data") != ours["data"]:
                diff.append("data")
            if (theirs or {}).get("init") != ours.get("init"):
                diff.append("init (pre-trained weights)")
            raise DataError(f"checkpoint {self.checkpoint} was trained with other settings (differing: {diff}); "
                            "delete it or set supernet.checkpoint to another file")
        meta = load_checkpoint(self.checkpoint, self.net, self.optimizer)
        self.history = list(meta.get("history", []))
        self.resumed_at = int(meta.get("epoch", 0))
        return self.resumed_at

    def save(self, epoch: int) -> None:
        """Rank 0 writes the checkpoint; every rank returns once it is written (a barrier)."""
        if self.checkpoint is not None and self.ranks.is_main:
            save_checkpoint(self.checkpoint, self.net, self.optimizer,
                            {"epoch": epoch, "fingerprint": self.fingerprint(), "history": self.history})
        if self.ranks.distributed:
            torch.distributed.barrier()

    def train(self, progress: Progress | None = None) -> TrainResult:
        t0 = time.perf_counter()
        self.history: list[dict] = []
        start = self.resume()
        resumed = start if start > 0 else None
        self.net.train()
        if self.ranks.distributed:
            with synced_batch_norm(self.net):
                self.model = wrap(self.net)
                try:
                    self._epochs(start, progress)
                finally:
                    self.model = self.net
        else:
            self._epochs(start, progress)
        self.net.eval()
        return TrainResult(self.cfg.epochs, resumed, time.perf_counter() - t0, self.history)

    def _epochs(self, start: int, progress: Progress | None) -> None:
        cfg, ranks = self.cfg, self.ranks
        for epoch in range(start, cfg.epochs):
            gen = torch.Generator().manual_seed(cfg.seed * 100_003 + epoch)
            rng = np.random.default_rng([cfg.seed, epoch])
            losses = []
            for i, (xb, yb) in enumerate(batches(self.data.x_train, self.data.y_train, cfg.batch_size, gen)):
                step = epoch * self.steps_per_epoch + i
                archs = self.sample_archs(rng, self.shot_at(step))  # drawn on every rank alike, even if skipped
                if len(xb) < ranks.world_size:
                    continue
                rows, weight = ranks.shard(len(xb))
                set_lr(self.optimizer, cosine_lr(cfg, step, self.total_steps))
                if epoch < cfg.warmup_epochs:
                    archs = archs[:1]  # the warm-up: the largest network alone
                losses.append(self.step(xb[rows], yb[rows], archs, weight))
                if progress is not None:
                    progress(step + 1, self.total_steps, {"epoch": epoch + 1, "loss": losses[-1]})
            self.history.append({"epoch": epoch + 1, "loss": float(np.mean(losses))})
            if (epoch + 1) % cfg.checkpoint_every == 0 or epoch + 1 == cfg.epochs:
                self.save(epoch + 1)
