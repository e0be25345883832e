"""The demo end to end: wall time of a first run (fresh latency cache, no checkpoint), then two checks on its output.

1. ``hwnas search --config examples/digits.yaml --out DIR`` (run as a subprocess
   of ``python -m hwnas.supernet.pipeline``), timed, with ``HWNAS_CACHE`` pointing
   to an empty folder so nothing is cached;
2. every ONNX model in ``DIR/models`` is scored on the digits test split in ONNX
   Runtime and compared with its ``front.csv`` accuracy (bar: within 0.5 point);
3. the front member with the best accuracy is trained alone from scratch
   (``--seeds`` seeds, same optimizer, schedule and epochs) and compared with its
   inherited accuracy (bar: within 1 point).

    .venv/bin/python benchmarks/bench_supernet_demo.py --out runs/bench_demo --seeds 3
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

from hwnas.compress.onnx_export import onnx_accuracy
from hwnas.data import get_dataset
from hwnas.supernet.calibrate import accuracy
from hwnas.supernet.config import load_pipeline_config
from hwnas.supernet.pipeline import build_space
from hwnas.supernet.train import train_standalone


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", type=Path, default=Path("examples/digits.yaml"))
    p.add_argument("--out", type=Path, default=Path("runs/bench_demo"))
    p.add_argument("--seeds", type=int, default=3)
    args = p.parse_args()
    shutil.rmtree(args.out, ignore_errors=True)
    cache = tempfile.mkdtemp(prefix="hwnas-cache-")
    t0 = time.perf_counter()
    cpu0 = os.times()
    subprocess.run([sys.executable, "-m", "hwnas.supernet.pipeline", "--config", str(args.config), "--out",
                    str(args.out)], check=True, env={**os.environ, "HWNAS_CACHE": cache})
    wall = time.perf_counter() - t0
    cpu1 = os.times()
    child_cpu = (cpu1.children_user - cpu0.children_user) + (cpu1.children_system - cpu0.children_system)
    with open(args.out / "front.csv") as f:
        rows = list(csv.DictReader(f))
    cfg = load_pipeline_config(args.config)
    data = get_dataset(cfg.data.name, **cfg.data.options)
    x, y = data.split("test")
    diffs = []
    for r in rows:
        ort_acc = onnx_accuracy(args.out / r["model"], x, y)
        diffs.append(abs(ort_acc - float(r["accuracy"])))
        print(f"{r['model']}: front.csv {float(r['accuracy']):.2f}  onnxruntime {ort_acc:.2f}")
    torch.set_num_threads(cfg.threads)
    space = build_space(cfg, data)
    best = max(rows, key=lambda r: float(r["accuracy"]))
    arch = space.parse(best["arch"])
    alone = []
    for s in range(args.seeds):
        torch.manual_seed(s)  # initial weights as well as batch order follow the seed
        alone.append(accuracy(train_standalone(space.build(arch), data, cfg.supernet.training, seed=s), x, y))
    print(json.dumps({"wall_seconds": wall, "cpu_seconds_child": child_cpu, "front_size": len(rows),
                      "max_onnx_accuracy_diff_points": max(diffs), "best_arch": best["arch"],
                      "best_inherited_test_accuracy": float(best["accuracy"]), "best_alone_test_accuracy": alone,
                      "best_alone_mean": float(np.mean(alone)),
                      "gap_points": float(np.mean(alone) - float(best["accuracy"]))}, indent=1))


if __name__ == "__main__":
    main()
