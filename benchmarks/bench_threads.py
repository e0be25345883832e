"""Wall time of one supernet training epoch with 1 vs 2 torch threads, on an idle and on a loaded machine.

The ``threads`` setting of a config is torch's thread count for training and evaluation. This times one
epoch of the config's supernet training (``examples/digits.yaml`` by default) at each thread count,
alternating, ``--repeats`` times each, first as the machine is, then with one busy process the script
starts itself (``yes > /dev/null``, ended by its pid) taking a core. Reports the median seconds per epoch
and the load average seen.

    .venv/bin/python benchmarks/bench_threads.py --config examples/digits.yaml --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from hwnas.app.components import build_space
from hwnas.app.config import load_config
from hwnas.data import get_dataset
from hwnas.supernet.fewshot import make_supernet
from hwnas.supernet.train import SupernetTrainer


def epoch_seconds(cfg, data, space, threads: int) -> float:
    torch.set_num_threads(threads)
    tcfg = cfg.supernet.training.model_copy(update={"epochs": 1})
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = SupernetTrainer(make_supernet(space, tcfg.few_shot), data, tcfg, Path(tmp) / "s.safetensors")
        t0 = time.perf_counter()
        trainer.train()
        return time.perf_counter() - t0


def measure(cfg, data, space, repeats: int) -> dict:
    times: dict[int, list[float]] = {1: [], 2: []}
    for _ in range(repeats):
        for threads in (1, 2):
            times[threads].append(epoch_seconds(cfg, data, space, threads))
    return {f"threads_{t}_s": round(float(np.median(v)), 2) for t, v in times.items()} | {
        "loadavg_1min": os.getloadavg()[0], "all_s": {t: [round(x, 2) for x in v] for t, v in times.items()}}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", type=Path, default=Path("examples/digits.yaml"))
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    cfg = load_config(args.config)
    data = get_dataset(cfg.data.name, **cfg.data.options)
    space = build_space(cfg, data)
    epoch_seconds(cfg, data, space, 1)  # warm-up
    result = {"cpus": os.cpu_count(), "as_is": measure(cfg, data, space, args.repeats)}
    busy = subprocess.Popen(["yes"], stdout=subprocess.DEVNULL)
    try:
        time.sleep(1.0)
        result["one_core_busy"] = measure(cfg, data, space, args.repeats)
    finally:
        busy.kill()
        busy.wait()
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
