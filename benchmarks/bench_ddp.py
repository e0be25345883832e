"""The demo's supernet trained data-parallel on 2 processes against 1: front-member accuracies within seed noise.

1. train the supernet of ``--config`` (default ``examples/digits.yaml``, the ``make demo`` supernet) on one
   process for each seed of ``--seeds`` and on ``--nproc`` processes (torch.distributed, gloo) for
   ``--ddp-seeds``, through ``hwnas.app.train.run_train`` (as ``hwnas train``); each into its own folder;
2. the front members: ``--sample`` random canonical architectures of the space plus the largest and smallest,
   scored (validation accuracy, inherited weights after BN recalibration) on the first 1-process supernet;
   the members are those on the front of validation accuracy against MACs;
3. every member's test accuracy on every supernet. Reported: per member, the 1-process accuracies of each
   seed, their spread (max - min), and the ``--nproc`` accuracy; overall, the mean absolute difference of
   the N-process supernet from the 1-process one of the same seed against the mean seed-to-seed spread.

Bar: the N-process supernet's accuracies differ from the same seed's 1-process ones by no more than the
1-process seed-to-seed spread.

    .venv/bin/python benchmarks/bench_ddp.py --out runs/bench_ddp --json benchmarks/results/ddp.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", type=Path, default=Path("examples/digits.yaml"))
    p.add_argument("--out", type=Path, default=Path("runs/bench_ddp"))
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="training seeds on 1 process")
    p.add_argument("--ddp-seeds", type=int, nargs="+", default=[0], help="training seeds on --nproc processes")
    p.add_argument("--nproc", type=int, default=2)
    p.add_argument("--epochs", type=int, default=None, help="override supernet.training.epochs")
    p.add_argument("--sample", type=int, default=48, help="random architectures the front is drawn from")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()

    import numpy as np
    import torch
    from rich.console import Console

    from hwnas.app.components import build_data, build_trainable_space
    from hwnas.app.config import load_config, read_yaml
    from hwnas.app.train import build_seeded_supernet, checkpoint_path, run_train
    from hwnas.core.pareto import nondominated_mask
    from hwnas.evaluators.supernet import SupernetEvaluator
    from hwnas.supernet.checkpoint import load_checkpoint

    console = Console(stderr=True)
    raw = read_yaml(args.config)

    def config(seed: int):
        training = {**raw["supernet"].get("training", {}), "seed": seed}
        if args.epochs:
            training["epochs"] = args.epochs
        return load_config({**raw, "supernet": {**raw["supernet"], "training": training}},
                           base=args.config.resolve().parent)

    runs = [(1, s) for s in args.seeds] + [(args.nproc, s) for s in args.ddp_seeds]
    seconds, nets = {}, {}
    for nproc, seed in runs:
        cfg = config(seed)
        out = args.out / f"nproc{nproc}_seed{seed}"
        t0 = time.perf_counter()
        res = run_train(cfg, out, nproc=nproc, console=console, quiet=True)
        seconds[(nproc, seed)] = None if res.already_trained else round(time.perf_counter() - t0, 1)
        data = build_data(cfg)
        space = build_trainable_space(cfg, data)
        net = build_seeded_supernet(space, seed, cfg.supernet.training.few_shot)
        load_checkpoint(checkpoint_path(cfg, out), net)
        nets[(nproc, seed)] = net.eval()
        console.print(f"trained on {nproc} process(es), seed {seed}: {seconds[(nproc, seed)]} s")

    torch.set_num_threads(cfg.threads or 1)
    calib = int(cfg.evaluator.options.get("calib_samples", 512)) if cfg.evaluator is not None else 512
    rng = np.random.default_rng(1234)
    archs = [space.largest(), space.smallest()] + [space.canonical(space.sample(rng)) for _ in range(args.sample)]
    keys, unique = set(), []
    for a in archs:
        if space.key(a) not in keys:
            keys.add(space.key(a))
            unique.append(a)
    ref = SupernetEvaluator(nets[(1, args.seeds[0])], data, "val", calib_samples=calib)
    val = np.array([ref.evaluate(a)["accuracy"] for a in unique])
    macs = np.array([sum(layer.macs for layer in space.layers(a)) for a in unique], dtype=float)
    front = [a for a, keep in zip(unique, nondominated_mask(np.stack([-val, macs], 1))) if keep]
    front.sort(key=lambda a: sum(layer.macs for layer in space.layers(a)))

    test = {run: [SupernetEvaluator(net, data, "test", calib_samples=calib).evaluate(a)["accuracy"] for a in front]
            for run, net in nets.items()}
    rows = []
    for i, a in enumerate(front):
        ones = [test[(1, s)][i] for s in args.seeds]
        row = {"arch": space.format(a), "macs": int(sum(layer.macs for layer in space.layers(a))),
               **{f"1proc_seed{s}": round(test[(1, s)][i], 2) for s in args.seeds},
               **{f"{args.nproc}proc_seed{s}": round(test[(args.nproc, s)][i], 2) for s in args.ddp_seeds},
               "seed_spread_1proc": round(max(ones) - min(ones), 2)}
        rows.append(row)
    diffs = [abs(test[(args.nproc, s)][i] - test[(1, s)][i]) for s in args.ddp_seeds if s in args.seeds
             for i in range(len(front))]
    pair_diffs = [abs(test[(1, s)][i] - test[(1, t)][i]) for i in range(len(front))
                  for j, s in enumerate(args.seeds) for t in args.seeds[j + 1:]]
    summary = {
        "config": str(args.config), "nproc": args.nproc, "seeds_1proc": args.seeds, "seeds_nproc": args.ddp_seeds,
        "train_seconds": {f"{n}proc_seed{s}": v for (n, s), v in seconds.items()},
        "front_members": len(front),
        "mean_abs_diff_nproc_vs_1proc_same_seed": round(statistics.fmean(diffs), 2) if diffs else None,
        "mean_abs_diff_between_1proc_seeds": round(statistics.fmean(pair_diffs), 2) if pair_diffs else None,
        "mean_seed_spread_1proc": round(statistics.fmean(r["seed_spread_1proc"] for r in rows), 2),
        "rows": rows,
    }
    cols = [c for c in rows[0] if c != "arch"]  # the architectures are in the JSON
    print("| member | " + " | ".join(cols) + " |")
    print("|---|" + "---|" * len(cols))
    for i, r in enumerate(rows):
        print(f"| {i} | " + " | ".join(str(r[c]) for c in cols) + " |")
    print({k: v for k, v in summary.items() if k != "rows"})
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
