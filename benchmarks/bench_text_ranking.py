"""Ranking bar of the ``text_encoder`` supernet on the built-in synthetic language (issue 22).

The space, task and supernet settings are those of ``examples/text.yaml`` (topic of 24-token sequences,
12 topics) with a larger generated sample (``--num-samples``, default 40000: 24000 training sequences, a
10000-sequence test split) and the recipes below. Steps:

1. 20 sub-networks spread over the space (:func:`hwnas.supernet.ranking.grid_spread_archs`: every
   width x depth combination, its heads and MLP sizes from the smallest choices to the largest);
2. the reference: each trained alone from scratch (AdamW, linear warm-up over ``--alone-warmup`` of the
   steps, then cosine; ``--alone-epochs``), ``--seeds`` seeds, reference = their mean; its own agreement
   (``alone_seed_vs_seed_tau``, ``alone_one_vs_rest_tau``) is the ceiling any supernet can be held to;
3. the supernet trained with the project's trainer and the config's ``supernet.training`` (text.yaml: few-shot by
   depth, sandwich rule, no in-place distillation) for each seed
   of ``--supernet-seeds`` and each ``--variant`` (``supernet.training`` fields changed, e.g.
   ``distill=0`` or ``sandwich_random=4``); its sub-networks scored by inherited accuracy (test split;
   validation split beside it, for choosing a variant without looking at test);
4. Kendall tau of inherited accuracy against the reference mean, per supernet seed and their median.

The data are the reason for the larger sample: with examples/text.yaml's 8000 sequences (4800 to train
on) every network of two or three layers memorises its training split (99 % training accuracy, 74 %
validation at 40 and at 60 epochs) and the reference ranks over-fitting noise (seed-to-seed tau 0.61).
On 24000 training sequences the reference recipe's learning curves (validation accuracy at epochs
2 / 4 / 6 / 8 / 10 / 12, seed 0; training accuracy last) flatten by the end and training accuracy stays
near validation, so capacity decides: smallest 34.9 / 49.1 / 52.2 / 54.4 / 55.4 / 55.5 (55.7), width 16
depth 3 (4 heads, MLP 64) 45.8 / 61.4 / 72.9 / 76.1 / 78.2 / 78.4 (80.8), width 32 depth 1 (4 heads, MLP
64) 59.7 / 72.2 / 78.5 / 82.0 / 83.3 / 83.6 (84.6), largest 65.2 / 78.0 / 82.5 / 86.7 / 86.9 / 87.1 (93.0).

Stand-alone runs are cached (``--cache``, default the committed
``benchmarks/results/standalone_cache_text.json``), keyed by space, data, architecture, seed, epochs,
warm-up and stand-alone settings, so a re-run re-scores without retraining them; ``--shard K/N`` fills
a cache with every N-th architecture's runs only (N processes with their own caches; merge the JSON
objects, then run without ``--shard``). Run it with one thread per process, e.g.

    OMP_NUM_THREADS=1 nice python benchmarks/bench_text_ranking.py --seeds 2 --supernet-seeds 4 \
        --out benchmarks/results/text_ranking.json

Bar: median ``kendall_tau`` over supernet seeds >= 0.75.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from bench_supernet_kendall import parse_shard  # benchmarks/, the script's own folder
from scipy.stats import kendalltau

from hwnas.app.components import build_space
from hwnas.app.config import load_config
from hwnas.core.errors import ConfigError
from hwnas.core.plaindata import read_json, write_json
from hwnas.data import get_dataset
from hwnas.evaluators.supernet import SupernetEvaluator
from hwnas.supernet.calibrate import accuracy, scores
from hwnas.supernet.fewshot import make_supernet
from hwnas.supernet.ranking import grid_spread_archs, leave_one_out_taus
from hwnas.supernet.standalone import (
    STANDALONE_FIELDS,
    alone_key,
    parse_alone_training,
    parse_training,
    train_alone,
)
from hwnas.supernet.train import SupernetTrainer

HERE = Path(__file__).resolve().parent
#: the dimensions whose every combination the 20 networks cover
SPREAD_DIMS = ("width", "depth")


def main() -> None:
    try:
        run()
    except ConfigError as e:
        raise SystemExit(f"{Path(sys.argv[0]).name}: {e}") from None


def tau(a, b) -> float:
    return float(kendalltau(a, b).statistic)


def run() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", type=Path, default=HERE.parent / "examples" / "text.yaml")
    p.add_argument("--num-samples", type=int, default=40000, help="sequences generated (data.options.num_samples)")
    p.add_argument("--n", type=int, default=20)
    p.add_argument("--seeds", type=int, default=3, help="stand-alone seeds per network (reference = their mean)")
    p.add_argument("--alone-training", default="batch_size=128,lr=0.002,weight_decay=0.01,epochs=12",
                   help=f"stand-alone recipe: k=v of {', '.join(STANDALONE_FIELDS)}, epochs")
    p.add_argument("--alone-warmup", type=float, default=0.05, help="fraction of stand-alone steps warming up")
    p.add_argument("--supernet-training", default="batch_size=128,epochs=12",
                   help="supernet.training fields changed from the config for every supernet")
    p.add_argument("--supernet-seeds", type=int, default=2)
    p.add_argument("--variant", action="append", default=[],
                   help="also train supernets (each supernet seed) with these training fields changed, e.g. distill=0")
    p.add_argument("--cache", type=Path, default=HERE / "results" / "standalone_cache_text.json")
    p.add_argument("--supernet-cache", type=Path, default=HERE / "results" / "supernet_cache_text.json",
                   help="inherited accuracies of every trained supernet, keyed by space, data, training and networks")
    p.add_argument("--only", choices=("alone", "supernet"), default=None,
                   help="only fill the stand-alone cache, or only the supernet cache (two processes side by side)")
    p.add_argument("--out", type=Path, default=None, help="JSON file for the summary and per-network figures")
    p.add_argument("--shard", default=None, metavar="K/N", help="only fill --cache with architectures K, K+N, ...")
    args = p.parse_args()
    shard = parse_shard(args.shard) if args.shard else None
    cfg = load_config(args.config)
    torch.set_num_threads(cfg.threads)
    data = get_dataset(cfg.data.name, **{**cfg.data.options, "num_samples": args.num_samples})
    space = build_space(cfg, data)
    sup_base = parse_training(args.supernet_training, cfg.supernet.training, "--supernet-training")
    ref_cfg = parse_alone_training(args.alone_training, cfg.supernet.training)
    archs = grid_spread_archs(space, args.n, SPREAD_DIMS)

    cache = read_json(args.cache, "stand-alone cache") if args.cache.exists() else {}
    alone, alone_val, alone_cpu = [], [], 0.0
    for i, a in enumerate(archs):
        if (shard and i % shard[1] != shard[0]) or args.only == "supernet":
            continue
        for s in range(args.seeds):
            key = alone_key(space, data, a, ref_cfg, s, warmup=args.alone_warmup)
            if key not in cache:
                c0 = time.process_time()
                model = train_alone(space, data, a, ref_cfg, s, warmup=args.alone_warmup)
                cache[key] = {"arch": space.format(a), "seed": s, "epochs": ref_cfg.epochs,
                              "accuracy": accuracy(model, data.x_test, data.y_test),
                              "val_accuracy": accuracy(model, data.x_val, data.y_val),
                              "cpu_seconds": time.process_time() - c0}
                write_json(args.cache, cache)
                print(f"alone {i + 1:2d}/{len(archs)} seed {s}: {cache[key]['accuracy']:.2f} "
                      f"({cache[key]['cpu_seconds']:.0f} s CPU) {space.format(a)}", flush=True)
            alone_cpu += cache[key].get("cpu_seconds", 0.0)
        keys = [alone_key(space, data, a, ref_cfg, s, warmup=args.alone_warmup) for s in range(args.seeds)]
        alone.append([cache[k]["accuracy"] for k in keys])
        alone_val.append([cache[k]["val_accuracy"] for k in keys])
    variants = {"config": sup_base, **{v: parse_training(v, sup_base, "--variant") for v in args.variant}}
    inherited_runs = supernets(space, data, archs, variants, args, cfg.evaluator.options.get("calib_samples", 512))
    if shard or args.only:
        print(f"{args.shard or args.only}: runs cached in {args.cache} / {args.supernet_cache}; merge shards' caches, "
              "then run without --shard / --only for the figures", flush=True)
        return
    per_seed = np.array(alone).T  # (seeds, networks)
    ref_mean, ref_val = per_seed.mean(0), np.array(alone_val).mean(1)
    reference = {"training": {**{k: getattr(ref_cfg, k) for k in (*STANDALONE_FIELDS, "epochs")},
                              "warmup": args.alone_warmup},
                 "seeds": args.seeds, "cpu_seconds": alone_cpu,
                 "alone_seed_vs_seed_tau": [tau(per_seed[i], per_seed[j])
                                            for i, j in itertools.combinations(range(args.seeds), 2)],
                 "alone_one_vs_rest_tau": leave_one_out_taus(per_seed) if args.seeds > 1 else [],
                 "alone_range_test": [float(ref_mean.min()), float(ref_mean.max())],
                 "alone_seed_spread_mean": float((per_seed.max(0) - per_seed.min(0)).mean())}
    if args.seeds > 1:
        reference["alone_one_vs_rest_tau_median"] = float(np.median(reference["alone_one_vs_rest_tau"]))

    results, inherited = [], {}
    for name, runs in inherited_runs.items():
        per = []
        for tcfg, test, val, cpu in runs:
            inherited[f"{name} seed {tcfg.seed}"] = test
            per.append({"seed": tcfg.seed, "kendall_tau": tau(test, ref_mean), "kendall_tau_val": tau(val, ref_val),
                        "kendall_tau_vs_rest_median": (float(np.median(leave_one_out_taus(per_seed, np.array(test))))
                                                       if args.seeds > 1 else None),
                        "cpu_seconds": cpu})
        results.append({"variant": name, "training": runs[0][0].model_dump(exclude={"seed", "checkpoint_every"}),
                        "kendall_tau_median": float(np.median([r["kendall_tau"] for r in per])),
                        "kendall_tau_val_median": float(np.median([r["kendall_tau_val"] for r in per])),
                        "per_seed": per})
    summary = {"config": str(args.config), "data": data.describe(), "space": space.describe(), "n": len(archs),
               "spread": list(SPREAD_DIMS), "reference": reference, "results": results}
    print(json.dumps(summary | {"data": data.name, "space": space.name}, indent=1))
    if args.out:
        rows = [{"arch": space.format(a), "macs": sum(lay.macs for lay in space.layers(a)), "alone": alone[i],
                 "alone_val": alone_val[i], "inherited": {k: v[i] for k, v in inherited.items()}}
                for i, a in enumerate(archs)]
        write_json(args.out, {"summary": summary, "rows": rows})


def supernets(space, data, archs: list[dict], variants: dict, args, calib_samples: int) -> dict:
    """Per variant: (training, inherited test accuracies, validation accuracies, CPU seconds) of each supernet
    seed, trained unless ``--supernet-cache`` holds it (``--only alone``: only the cached ones)."""
    cache = read_json(args.supernet_cache, "supernet cache") if args.supernet_cache.exists() else {}
    out = {}
    for name, vcfg in variants.items():
        out[name] = []
        for seed in range(args.supernet_seeds):
            tcfg = vcfg.model_copy(update={"seed": vcfg.seed + seed})
            ident = {"space": space.describe(), "data": data.describe(), "archs": [space.key(a) for a in archs],
                     "training": tcfg.model_dump(exclude={"checkpoint_every"}), "calib_samples": calib_samples}
            key = hashlib.sha256(json.dumps(ident, sort_keys=True, default=str).encode()).hexdigest()[:24]
            if key not in cache:
                if args.only == "alone" or args.shard:
                    continue
                torch.manual_seed(tcfg.seed)  # the initial weights too, so a run repeats exactly
                net = make_supernet(space, tcfg.few_shot)
                c0 = time.process_time()
                SupernetTrainer(net, data, tcfg).train()
                cpu = time.process_time() - c0
                ev = SupernetEvaluator(net, data, "test", calib_samples)
                test, val = [], []
                for a in archs:
                    arch = ev.recalibrated(a)
                    test.append(scores(net, data.x_test, data.y_test, arch)["accuracy"])
                    val.append(scores(net, data.x_val, data.y_val, arch)["accuracy"])
                cache = read_json(args.supernet_cache, "supernet cache") if args.supernet_cache.exists() else {}
                cache[key] = {"variant": name, "seed": tcfg.seed, "test": test, "val": val, "cpu_seconds": cpu}
                write_json(args.supernet_cache, cache)
                print(f"supernet {name!r} seed {tcfg.seed}: {cpu:.0f} s CPU, inherited "
                      f"{' '.join(f'{v:.1f}' for v in test)}", flush=True)
            c = cache[key]
            out[name].append((tcfg, c["test"], c["val"], c["cpu_seconds"]))
    return out


if __name__ == "__main__":
    main()
