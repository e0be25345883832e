"""Train (or continue) the supernet of a train-once config without searching: ``hwnas train``.

``nproc`` > 1 spawns that many processes on this machine, joined in a gloo process group through a
rendezvous file in the output folder; a process started by torchrun (``RANK`` / ``WORLD_SIZE`` set)
trains as its rank. The data-parallel training is :mod:`hwnas.supernet.distributed`. The checkpoint
(``supernet.checkpoint``, default ``OUT/supernet.safetensors``) is written by rank 0 only and holds no
trace of the world size: a later ``hwnas train`` at any ``nproc``, or ``hwnas search`` on the same
``OUT``, continues or reuses it.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import torch
from rich.console import Console

from hwnas.app.components import build_data, build_trainable_space, expand_out
from hwnas.app.schema import TRAIN_ONCE, Config
from hwnas.core.errors import ConfigError, HwnasError
from hwnas.core.progress import progress_bar
from hwnas.spaces.trainable import TrainableSpace
from hwnas.supernet.distributed import Ranks, env_ranks, init_group

#: seconds any collective of the training process group may wait for a rank before failing
GROUP_TIMEOUT_S = 600.0


@dataclass
class TrainOutcome:
    """What a ``hwnas train`` run left: the checkpoint, the epochs it holds, the processes this run trained
    on, and whether the checkpoint was already fully trained (then nothing was trained)."""

    checkpoint: Path
    epochs: int
    world_size: int
    already_trained: bool


def checkpoint_path(cfg: Config, out: Path) -> Path:
    """Where the train-once job keeps the supernet of ``cfg`` for output folder ``out``."""
    return Path(expand_out(cfg.supernet.checkpoint, out) or out / "supernet.safetensors")


def build_seeded_supernet(space: TrainableSpace, seed: int, few_shot: str | None = None):
    """The space's supernet (split by dimension ``few_shot`` when given) with initial weights drawn from ``seed``
    (the global RNG is left as it was), so the same config trains the same supernet on every rank."""
    from hwnas.supernet.fewshot import make_supernet

    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return make_supernet(space, few_shot)


def train_supernet(cfg: Config, space: TrainableSpace, data, checkpoint: Path, console: Console,
                   quiet: bool = False, ranks: Ranks | None = None, out: Path | None = None):
    """Train the supernet of ``cfg`` (continuing or reusing ``checkpoint``); returns (network, trainer).

    With ``supernet.init`` the supernet starts from pre-trained weights (InstaTune; a dense model is
    pre-trained first into ``out`` when the file is missing). Only rank 0 prints and shows progress."""
    from hwnas.app.instatune import start_from_pretrained
    from hwnas.supernet.train import SupernetTrainer

    ranks = ranks or Ranks()
    say = console.print if ranks.is_main else (lambda *a, **k: None)
    net = build_seeded_supernet(space, cfg.supernet.training.seed, cfg.supernet.training.few_shot)
    init = start_from_pretrained(cfg, space, net, out or checkpoint.parent, console, data)  # InstaTune
    trainer = SupernetTrainer(net, data, cfg.supernet.training, checkpoint, init=init, ranks=ranks)
    start = trainer.resume()
    if start >= cfg.supernet.training.epochs:
        say(f"supernet: reusing trained checkpoint {checkpoint} ({start} epochs)")
        return net.eval(), trainer
    if start:
        say(f"supernet: resuming training from {checkpoint} at epoch {start}/{cfg.supernet.training.epochs}")
    on = f" on {ranks.world_size} processes" if ranks.distributed else ""
    with progress_bar(quiet or not ranks.is_main) as bar:
        task = bar.add_task(f"train supernet{on}", total=trainer.total_steps,
                            completed=start * trainer.steps_per_epoch, info="")
        result = trainer.train(lambda done, total, info: bar.update(
            task, completed=done, info=f"epoch {info['epoch']} loss {info['loss']:.3f}"))
    say(f"supernet: trained {result.epochs_done} epochs{on} in {result.seconds:.1f}s"
        + (f" (resumed at epoch {result.resumed_from})" if result.resumed_from else ""))
    return net.eval(), trainer


def _train_here(cfg: Config, out: Path, ranks: Ranks, console: Console, quiet: bool) -> bool:
    """Train as ``ranks`` in this process (the group already joined); True if the checkpoint was complete."""
    torch.set_num_threads(cfg.threads or 1)
    data = build_data(cfg)
    space = build_trainable_space(cfg, data)
    if ranks.is_main:
        console.print(data.summary(), soft_wrap=True, markup=False, highlight=False)
        console.print(f"space {space.name}: {space.size:.3g} architectures")
    _, trainer = train_supernet(cfg, space, data, checkpoint_path(cfg, out), console, quiet, ranks, out=out)
    return trainer.resumed_at >= cfg.supernet.training.epochs


def _epochs_done(cfg: Config, out: Path) -> int:
    """Epochs the checkpoint for ``cfg`` in ``out`` already holds (0 without one); refuses, naming the file,
    a checkpoint of other settings, so the refusal comes before any process is spawned."""
    from hwnas.supernet.train import SupernetTrainer

    data = build_data(cfg)
    space = build_trainable_space(cfg, data)
    net = build_seeded_supernet(space, cfg.supernet.training.seed, cfg.supernet.training.few_shot)
    return SupernetTrainer(net, data, cfg.supernet.training, checkpoint_path(cfg, out)).resume()


def _spawned(rank: int, cfg: Config, out: str, world: int, init_method: str, quiet: bool) -> None:
    ranks = Ranks(rank, world)
    init_group(ranks, init_method, GROUP_TIMEOUT_S)
    try:
        _train_here(cfg, Path(out), ranks, Console(quiet=not ranks.is_main), quiet)
    finally:
        import torch.distributed as dist

        dist.destroy_process_group()


def run_train(cfg: Config, out: str | Path, nproc: int = 1, console: Console | None = None,
              quiet: bool = False) -> TrainOutcome:
    """Train the supernet of the train-once config ``cfg`` into ``out`` on ``nproc`` local processes (or as
    the rank torchrun gave this process); return where the checkpoint is and how far it is trained."""
    from hwnas.supernet.checkpoint import read_metadata

    if cfg.job != TRAIN_ONCE:
        raise ConfigError("hwnas train needs a train-once config (one with a 'supernet:' section); this config "
                          "searches a table and has no supernet to train")
    if not isinstance(nproc, int) or nproc < 1:
        raise ConfigError(f"nproc must be an integer >= 1, got {nproc!r}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    console = console or Console()
    launched = env_ranks()
    if launched is not None and launched.distributed:
        if nproc not in (1, launched.world_size):
            raise ConfigError(f"launched by torchrun with WORLD_SIZE={launched.world_size}: leave nproc at 1 "
                              f"(got {nproc}); torchrun starts the processes")
        init_group(launched, "env://", GROUP_TIMEOUT_S)
        try:
            done, world = _train_here(cfg, out, launched, console, quiet), launched.world_size
        finally:
            import torch.distributed as dist

            dist.destroy_process_group()
    elif nproc > 1 and _epochs_done(cfg, out) < cfg.supernet.training.epochs:
        import torch.multiprocessing as mp

        rendezvous = out / f".hwnas-train-{uuid.uuid4().hex}.rendezvous"
        try:
            mp.spawn(_spawned, args=(cfg, str(out), nproc, f"file://{rendezvous.resolve()}", quiet),
                     nprocs=nproc, join=True)
        except mp.ProcessRaisedException as e:
            last = str(e).strip().splitlines()[-1]
            raise HwnasError(f"supernet training on {nproc} processes failed: {last}") from None
        finally:
            if rendezvous.exists():
                os.remove(rendezvous)
        done, world = False, nproc
    else:
        done, world = _train_here(cfg, out, Ranks(), console, quiet), 1
    checkpoint = checkpoint_path(cfg, out)
    epochs = int(read_metadata(checkpoint)["meta"].get("epoch", 0))
    return TrainOutcome(checkpoint, epochs, 0 if done else world, done)
