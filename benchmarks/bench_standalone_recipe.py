"""Stand-alone training recipes compared by *validation* accuracy over the Kendall benchmark's architectures.

Trains every architecture that ``bench_supernet_kendall.py`` picks (``--n``, spread by MACs:
:func:`hwnas.supernet.ranking.spread_archs`) alone with each
recipe and prints the mean train / validation accuracy; the per-architecture train, val and test figures go
to ``--out`` (a JSON file; recipes already in it are skipped, so runs can be extended). A recipe is
``k=v,...`` over the stand-alone settings (``batch_size``, ``lr``, ``weight_decay``, ``label_smoothing``) plus
``epochs`` (default ``--epochs``); ``""`` is the config's own settings. Choose a reference recipe by the mean
validation accuracy, never by the test figures or the tau it gives. MNIST-1D:

    .venv/bin/python benchmarks/bench_standalone_recipe.py --config examples/mnist1d.yaml --seed 0 \\
        --out runs/r5/sweep.json "" weight_decay=0.05 weight_decay=0.2 label_smoothing=0.1 weight_decay=0.5 \\
        lr=0.001 epochs=150 weight_decay=1.0 weight_decay=0.5,label_smoothing=0.1 weight_decay=2.0 \\
        weight_decay=1.0,label_smoothing=0.1
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from hwnas.app.components import build_space
from hwnas.app.config import load_config
from hwnas.core.errors import ConfigError
from hwnas.core.plaindata import read_json, write_json
from hwnas.data import get_dataset
from hwnas.supernet.calibrate import accuracy
from hwnas.supernet.ranking import spread_archs
from hwnas.supernet.standalone import parse_alone_training, train_alone


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", type=Path, default=Path("examples/mnist1d.yaml"))
    p.add_argument("--n", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("recipes", nargs="+")
    args = p.parse_args()
    cfg = load_config(args.config)
    torch.set_num_threads(cfg.threads)
    data = get_dataset(cfg.data.name, **cfg.data.options)
    space = build_space(cfg, data)
    archs = spread_archs(space, args.n)
    res = read_json(args.out, "recipe results") if args.out.exists() else {}
    for recipe in args.recipes:
        key = f"{recipe}|seed={args.seed}"
        if key in res:
            continue
        # a recipe may set its own epochs; the default is --epochs
        try:
            tcfg = parse_alone_training(recipe, cfg.supernet.training.model_copy(update={"epochs": args.epochs}))
        except ConfigError as e:
            raise SystemExit(f"recipe {recipe!r}: {e}") from None
        t0, rows = time.perf_counter(), []
        for a in archs:
            m = train_alone(space, data, a, tcfg, args.seed)
            rows.append({"arch": space.format(a), "train": accuracy(m, data.x_train, data.y_train),
                         "val": accuracy(m, data.x_val, data.y_val), "test": accuracy(m, data.x_test, data.y_test)})
        res[key] = rows
        write_json(args.out, res, indent=0)
        print(f"{key:45s} mean train {np.mean([r['train'] for r in rows]):.2f} "
              f"val {np.mean([r['val'] for r in rows]):.2f} ({time.perf_counter() - t0:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
