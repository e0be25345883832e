"""Ranking quality of a supernet: Kendall tau between inherited and stand-alone-trained accuracy.

Trains the supernet of a config (examples/digits.yaml or examples/mnist1d.yaml),
picks ``--n`` architectures spread across the space (stratified by MACs over a
large random sample: evenly spaced quantiles, so small, medium and large
networks are all present), scores each with inherited weights (BN recalibrated)
and trains each alone from scratch with the same optimizer and schedule
(``--alone-epochs`` epochs, default the supernet's; ``--seeds`` seeds, accuracy
averaged), both on the test split. ``--extra-epochs`` trains further supernets
for other epoch counts and scores them against the same stand-alone runs.

    .venv/bin/python benchmarks/bench_supernet_kendall.py --config examples/mnist1d.yaml --n 20 --seeds 3 \
        --alone-epochs 30
    .venv/bin/python benchmarks/bench_supernet_kendall.py --config examples/digits.yaml --n 20 --seeds 3 \
        --extra-epochs 30
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from scipy.stats import kendalltau, spearmanr

from hwnas.data import get_dataset
from hwnas.supernet.calibrate import accuracy
from hwnas.supernet.config import load_pipeline_config
from hwnas.supernet.pipeline import build_space
from hwnas.supernet.train import SupernetTrainer, train_standalone


def spread_archs(space, n: int, seed: int = 0, pool: int = 3000) -> list[dict]:
    rng = np.random.default_rng(seed)
    archs, keys = [], set()
    for genes in space.sample_genes(rng, pool):
        a = space.canonical(space.from_genes(genes))
        k = space.key(a)
        if k not in keys:
            keys.add(k)
            archs.append(a)
    macs = np.array([sum(lay.macs for lay in space.layers(a)) for a in archs])
    order = np.argsort(macs)
    picks = [archs[order[int(round(q))]] for q in np.linspace(0, len(order) - 1, n)]
    picks[0], picks[-1] = space.smallest(), space.largest()
    return picks


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", type=Path, default=Path("examples/digits.yaml"))
    p.add_argument("--n", type=int, default=20)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--epochs", type=int, default=None, help="override supernet.training.epochs (also stand-alone)")
    p.add_argument("--alone-epochs", type=int, default=None,
                   help="stand-alone training epochs (default: the supernet's epochs)")
    p.add_argument("--extra-epochs", type=int, nargs="*", default=[],
                   help="also train supernets for these epoch counts and score them against the same stand-alone runs")
    p.add_argument("--checkpoint", type=Path, default=None)
    p.add_argument("--out", type=Path, default=None, help="JSON file for the per-architecture figures")
    args = p.parse_args()
    cfg = load_pipeline_config(args.config)
    if args.epochs:
        cfg.supernet.training.epochs = args.epochs
    torch.set_num_threads(cfg.threads)
    data = get_dataset(cfg.data.name, **cfg.data.options)
    space = build_space(cfg, data)
    trained = {}  # supernet epochs -> (evaluator, training seconds)
    from hwnas.evaluators.supernet import SupernetEvaluator

    for epochs in [cfg.supernet.training.epochs, *args.extra_epochs]:
        tcfg = cfg.supernet.training.model_copy(update={"epochs": epochs})
        net = space.build_supernet()
        t0 = time.perf_counter()
        SupernetTrainer(net, data, tcfg, args.checkpoint if epochs == cfg.supernet.training.epochs else None).train()
        trained[epochs] = (SupernetEvaluator(net, data, "test", cfg.evaluation.calib_samples),
                           time.perf_counter() - t0)
    archs = spread_archs(space, args.n)
    rows = []
    for i, a in enumerate(archs):
        inherited = {e: ev.evaluate(a)["accuracy"] for e, (ev, _) in trained.items()}
        alone = [accuracy(train_standalone(space.build(a), data, cfg.supernet.training, seed=s,
                                           epochs=args.alone_epochs), data.x_test, data.y_test)
                 for s in range(args.seeds)]
        macs = sum(lay.macs for lay in space.layers(a))
        rows.append({"arch": space.format(a), "macs": macs, "inherited": inherited, "alone": alone,
                     "alone_mean": float(np.mean(alone))})
        print(f"{i + 1:2d}/{len(archs)} macs {macs:8d} inherited "
              f"{' '.join(f'{v:6.2f}@{e}ep' for e, v in inherited.items())} alone {np.mean(alone):6.2f} "
              f"(seeds {', '.join(f'{v:.2f}' for v in alone)})", flush=True)
    alone = np.array([r["alone_mean"] for r in rows])
    results = []
    for e, (_, t_train) in trained.items():
        inh = np.array([r["inherited"][e] for r in rows])
        seed_taus = [kendalltau(inh, [r["alone"][s] for r in rows]).statistic for s in range(args.seeds)]
        results.append({"supernet_epochs": e, "kendall_tau": float(kendalltau(inh, alone).statistic),
                        "kendall_tau_per_seed": [float(t) for t in seed_taus],
                        "spearman": float(spearmanr(inh, alone).statistic),
                        "mean_gap_points": float(np.mean(alone - inh)), "train_seconds": t_train})
    summary = {"config": str(args.config), "space": space.name, "data": data.name, "n": len(rows),
               "alone_epochs": args.alone_epochs or cfg.supernet.training.epochs, "seeds": args.seeds,
               "results": results}
    print(json.dumps(summary, indent=1))
    if args.out:
        args.out.write_text(json.dumps({"summary": summary, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
