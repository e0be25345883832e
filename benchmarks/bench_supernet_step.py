"""Cost of one supernet training step vs one step of the largest sub-network trained alone.

Both on the same batch size and data (digits or MNIST-1D per the config), CPU
time (``time.process_time``, so other load on a shared machine counts less),
median over ``--repeats`` steps after warm-up. The supernet step is the full
sandwich step (largest + smallest + ``sandwich_random`` random sub-networks,
in-place distillation) through elastic layers (with ``few_shot`` set, the steps
cycle through the shots as training does); the reference is a plain
``torch.nn`` module of the largest architecture with the same optimizer.

    .venv/bin/python benchmarks/bench_supernet_step.py --config examples/digits.yaml
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from hwnas.app.components import build_space
from hwnas.app.config import load_config
from hwnas.data import get_dataset
from hwnas.supernet.fewshot import make_supernet
from hwnas.supernet.train import SupernetTrainer, fast_layout, make_optimizer


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", type=Path, default=Path("examples/digits.yaml"))
    p.add_argument("--repeats", type=int, default=30)
    args = p.parse_args()
    cfg = load_config(args.config)
    torch.set_num_threads(cfg.threads)
    data = get_dataset(cfg.data.name, **cfg.data.options)
    space = build_space(cfg, data)
    tcfg = cfg.supernet.training
    trainer = SupernetTrainer(make_supernet(space, tcfg.few_shot), data, tcfg)
    x, y = data.x_train[:tcfg.batch_size], data.y_train[:tcfg.batch_size]
    rng = np.random.default_rng(0)
    alone = space.build(space.largest()).train()
    opt = make_optimizer(alone.parameters(), tcfg)

    def plain_step():
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(alone(fast_layout(x)), y).backward()
        opt.step()

    def timed(fn):
        for _ in range(3):
            fn()
        out = []
        for _ in range(args.repeats):
            t = time.process_time()
            fn()
            out.append(time.process_time() - t)
        return np.array(out)

    trainer.net.train()
    steps = iter(range(10**9))

    def supernet_step():
        trainer.step(x, y, trainer.sample_archs(rng, trainer.shot_at(next(steps))))

    sup = timed(supernet_step)
    ref = timed(plain_step)
    ratio = np.median(sup) / np.median(ref)
    print(json.dumps({"config": str(args.config), "space": space.name, "batch_size": tcfg.batch_size,
                      "sandwich_random": tcfg.sandwich_random, "few_shot": tcfg.few_shot, "supernet_step_ms": 1e3 * float(np.median(sup)),
                      "supernet_step_iqr_ms": 1e3 * float(np.subtract(*np.percentile(sup, [75, 25]))),
                      "largest_alone_step_ms": 1e3 * float(np.median(ref)),
                      "largest_alone_iqr_ms": 1e3 * float(np.subtract(*np.percentile(ref, [75, 25]))),
                      "ratio": float(ratio)}, indent=1))


if __name__ == "__main__":
    main()
