"""The demo end to end: wall time of a first run (fresh latency cache, no checkpoint), then two checks on its output.

1. ``hwnas search --config examples/digits.yaml --out DIR`` (run as a subprocess
   of ``python -m hwnas.cli``), timed, with ``HWNAS_CACHE`` pointing
   to an empty folder so nothing is cached;
2. every ONNX model in ``DIR/models`` is scored on the digits test split in ONNX
   Runtime and compared with its ``front.csv`` accuracy (bar: within 0.5 point);
3. the best front member is trained alone from scratch (``--seeds`` seeds, same
   optimizer, schedule and epochs) and its inherited test accuracy compared with
   the mean of those runs (bar: within 1 point). "Best" is the member with the
   highest validation accuracy, the split the search ranked on (``--best-by val``,
   the default); ``--best-by test`` takes the highest test accuracy instead (ties:
   the cheaper member, as listed first in front.csv).

``--train-seed N`` runs the demo with ``supernet.training.seed`` set to N (a
copy of the config in a temporary folder), to see how much the outcome depends
on the supernet's seed; ``--reuse`` skips step 1 and checks an existing ``--out``.

    .venv/bin/python benchmarks/bench_supernet_demo.py --out runs/bench_demo --seeds 5
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from hwnas.app.components import build_space
from hwnas.app.config import load_config
from hwnas.data import get_dataset
from hwnas.export.onnx import onnx_accuracy
from hwnas.supernet.calibrate import accuracy
from hwnas.supernet.standalone import train_standalone


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", type=Path, default=Path("examples/digits.yaml"))
    p.add_argument("--out", type=Path, default=Path("runs/bench_demo"))
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--best-by", choices=("val", "test"), default="val")
    p.add_argument("--train-seed", type=int, default=None, help="override supernet.training.seed")
    p.add_argument("--reuse", action="store_true", help="do not run the demo; check the front already in --out")
    args = p.parse_args()
    config = args.config
    if args.train_seed is not None:
        raw = yaml.safe_load(args.config.read_text())
        raw.setdefault("supernet", {}).setdefault("training", {})["seed"] = args.train_seed
        config = Path(tempfile.mkdtemp(prefix="hwnas-demo-")) / args.config.name
        config.write_text(yaml.safe_dump(raw))
    wall = child_cpu = None
    if not args.reuse:
        shutil.rmtree(args.out, ignore_errors=True)
        cache = tempfile.mkdtemp(prefix="hwnas-cache-")
        t0 = time.perf_counter()
        cpu0 = os.times()
        subprocess.run([sys.executable, "-m", "hwnas.cli", "search", "--config", str(config), "--out",
                        str(args.out)], check=True, env={**os.environ, "HWNAS_CACHE": cache})
        wall = time.perf_counter() - t0
        cpu1 = os.times()
        child_cpu = (cpu1.children_user - cpu0.children_user) + (cpu1.children_system - cpu0.children_system)
    with open(args.out / "front.csv") as f:
        rows = list(csv.DictReader(f))
    cfg = load_config(config)
    data = get_dataset(cfg.data.name, **cfg.data.options)
    x, y = data.split("test")
    diffs = []
    for r in rows:
        ort_acc = onnx_accuracy(args.out / r["model"], x, y)
        diffs.append(abs(ort_acc - float(r["accuracy"])))
        print(f"{r['model']}: front.csv {float(r['accuracy']):.2f}  onnxruntime {ort_acc:.2f}")
    torch.set_num_threads(cfg.threads)
    space = build_space(cfg, data)
    column = "val_accuracy" if args.best_by == "val" and "val_accuracy" in rows[0] else "accuracy"
    best = max(rows, key=lambda r: float(r[column]))  # max keeps the first (cheapest) of equals
    arch = space.parse(best["arch"])
    alone = []
    for s in range(args.seeds):
        torch.manual_seed(s)  # initial weights as well as batch order follow the seed
        alone.append(accuracy(train_standalone(space.build(arch), data, cfg.supernet.training, seed=s), x, y))
    print(json.dumps({"config": str(config), "train_seed": cfg.supernet.training.seed, "best_by": column,
                      "wall_seconds": wall, "cpu_seconds_child": child_cpu, "front_size": len(rows),
                      "max_onnx_accuracy_diff_points": max(diffs), "best_arch": best["arch"],
                      "best_inherited_test_accuracy": float(best["accuracy"]), "best_alone_test_accuracy": alone,
                      "best_alone_mean": float(np.mean(alone)),
                      "gap_points": float(np.mean(alone) - float(best["accuracy"]))}, indent=1))


if __name__ == "__main__":
    main()
