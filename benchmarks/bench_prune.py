"""Structured pruning bar: 50 % of the channels removed runs >= 1.3x faster at batch 1, loses <= 1 point after fine-tuning.

For each task config (digits: the mobilenet space; MNIST-1D: the signal1d space) the member pruned is the
space's largest architecture (``--arch largest``, the default: every choice at its maximum, so the member with
the most MACs and the top of an accuracy-latency front, the one worth pruning; ``--arch smallest`` the other
end). It is trained alone with the config's stand-alone recipe for ``--epochs``; then ``--ratio`` of its
channels are removed with torch-pruning's dependency graph (:mod:`hwnas.compress.prune`), each group keeping a
multiple of ``--round-to`` channels (default 16, ONNX Runtime's channel block with AVX-512; 0: no rounding), and
the pruned network is fine-tuned for each of ``--finetune`` epoch counts (one row each, from the same pruned
weights) with the same stand-alone recipe (``--recipe config``: the config's optimizer, cosine schedule, weight
decay, label smoothing) or with the pruning step's own (``--recipe step``: Adam); ``--lr`` sets the
fine-tuning learning rate. Latency: the project timer (:func:`hwnas.costs.measure.model.measure_latency`, ONNX
Runtime, 1 thread, batch 1); accuracy lost on the test split, and on the validation split beside it (the
split to choose a fine-tuning recipe on). Seeds ``--seeds``; the table gives each.

    .venv/bin/python benchmarks/bench_prune.py --configs examples/digits.yaml examples/mnist1d.yaml
"""

from __future__ import annotations

import argparse
import copy
import time
from pathlib import Path

import torch

from hwnas.app.components import build_trainable_space
from hwnas.app.config import load_config
from hwnas.compress.finetune import finetune
from hwnas.compress.prune import channel_count, prune_channels
from hwnas.costs.measure.model import measure_latency
from hwnas.data import get_dataset
from hwnas.supernet.calibrate import accuracy
from hwnas.supernet.standalone import train_alone, train_standalone


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--configs", type=Path, nargs="+", default=[Path("examples/digits.yaml"),
                                                               Path("examples/mnist1d.yaml")])
    p.add_argument("--arch", choices=("largest", "smallest"), default="largest")
    p.add_argument("--ratio", type=float, default=0.5)
    p.add_argument("--round-to", type=int, default=16,
                   help="channels each group keeps rounded down to a multiple of this (0: no rounding)")
    p.add_argument("--epochs", type=int, default=60, help="stand-alone training epochs")
    p.add_argument("--finetune", type=int, nargs="+", default=[20],
                   help="fine-tuning epochs after pruning (several: one row each, from the same pruned weights; 0: none)")
    p.add_argument("--recipe", choices=("config", "step"), default="config", help="fine-tuning recipe")
    p.add_argument("--lr", type=float, default=None,
                   help="fine-tuning learning rate (default: the config's with --recipe config, 1e-3 with --recipe step)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--repeats", type=int, default=200)
    args = p.parse_args()
    rows = []
    for path in args.configs:
        cfg = load_config(path)
        torch.set_num_threads(cfg.threads or 1)
        data = get_dataset(cfg.data.name, **cfg.data.options)
        space = build_trainable_space(cfg, data)
        arch = getattr(space, args.arch)()
        shape = (1, *space.input_shape)
        x, y = data.split("test")
        tcfg = cfg.supernet.training.model_copy(update={"epochs": args.epochs})
        for seed in args.seeds:
            t0 = time.perf_counter()
            model = train_alone(space, data, arch, tcfg, seed)
            pruned = prune_channels(model, args.ratio, shape, args.round_to or None)
            raw_acc = accuracy(pruned, x, y)
            lat = [measure_latency(m, shape, repeats=args.repeats).latency_ms for m in (model, pruned)]
            base_acc = accuracy(model, x, y)
            base_val = accuracy(model, *data.split("val"))
            for epochs in args.finetune:
                tuned = copy.deepcopy(pruned)
                if epochs == 0:
                    pass
                elif args.recipe == "config":
                    ft = tcfg if args.lr is None else tcfg.model_copy(update={"lr": args.lr})
                    tuned = train_standalone(tuned, data, ft, seed=seed, epochs=epochs)
                else:
                    tuned = finetune(tuned, data, epochs=epochs, lr=args.lr or 1e-3, seed=seed)
                acc = accuracy(tuned, x, y)
                val_loss = base_val - accuracy(tuned, *data.split("val"))
                rows.append((data.name, seed, epochs, channel_count(tuned) / channel_count(model),
                             sum(q.numel() for q in tuned.parameters()) / sum(q.numel() for q in model.parameters()),
                             *lat, lat[0] / lat[1], base_acc, raw_acc, acc, base_acc - acc, val_loss))
            print(f"{data.name} seed {seed}: done in {time.perf_counter() - t0:.0f}s", flush=True)
    print("\n| task | seed | fine-tune epochs | channels kept | params kept | latency ms | pruned ms | speed-up | test acc | "
          "pruned, before fine-tune | after fine-tune | loss (points) | val loss (points) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]:.2f} | {r[4]:.2f} | {r[5]:.4f} | {r[6]:.4f} | {r[7]:.2f}x | "
              f"{r[8]:.2f} | {r[9]:.2f} | {r[10]:.2f} | {r[11]:+.2f} | {r[12]:+.2f} |")


if __name__ == "__main__":
    main()
