"""Ranking quality of a supernet: Kendall tau between inherited and stand-alone-trained accuracy.

Trains the supernet of a config (examples/digits.yaml or examples/mnist1d.yaml),
picks ``--n`` architectures spread across the space (stratified by MACs over a
large random sample: evenly spaced quantiles, so small, medium and large
networks are all present), scores each with inherited weights (BN recalibrated)
and trains each alone from scratch with the same optimizer and schedule
(``--alone-epochs`` epochs, default the supernet's; ``--seeds`` seeds, accuracy
averaged), both on the test split. Train the references at least as long as the
supernet trains (for a few-shot supernet: its epochs per shot): a shorter
schedule under-trains them, worst under strong weight decay, and the supernet
then looks as if it over-rated small networks (MNIST-1D at 60 instead of 300
epochs: tau 0.755 instead of 0.818; benchmarks/results/supernet.md).

Stand-alone results are cached in ``--cache`` (a JSON file; the default
``runs/standalone_cache.json`` is outside git; the references of BENCHMARKS.md are
committed as ``benchmarks/results/standalone_cache_{digits,mnist1d}.json``), keyed
by the space's description (name and options), the data, the architecture, the
seed, the epochs and the optimizer settings, so supernet variants are scored
against the same references without retraining them; a changed space definition
must change its options (and so the key). ``--shard K/N`` fills a cache with every N-th architecture's stand-alone
runs only (N processes with their own caches use N cores; merge the JSON objects,
then run without ``--shard``). ``--variant "k=v,k=v"`` (repeatable)
trains further supernets with those ``supernet.training`` settings changed
(any field of :class:`~hwnas.supernet.settings.TrainingConfig`)
(stand-alone training unchanged) and scores them against the same references;
``--extra-epochs N`` is short for ``--variant epochs=N``; ``--variant few_shot=n_conv,epochs=1200``
trains a few-shot supernet (one per conv depth, each shot 1200 / 4 = 300 epochs' worth of steps).

``--alone-training "k=v,..."`` (repeatable) adds a stand-alone reference trained
with those stand-alone settings changed (only ``batch_size``, ``lr``,
``weight_decay``, ``label_smoothing``: what stand-alone training reads, and
``epochs``, that reference's training length, default ``--alone-epochs``; all are
part of the cache key). Every supernet is scored against every reference; the
first reference is the supernet's own settings unless ``--no-default-reference``.
A reference recipe should be chosen by the stand-alone networks' *validation*
accuracy (``alone_val`` in the output), never by the tau it gives; likewise a
supernet variant by ``kendall_tau_val`` (inherited vs stand-alone accuracy on the
validation split), with ``kendall_tau`` (test split) the figure reported.
``kendall_tau_soft`` / ``kendall_tau_soft_val`` score the supernet's ranking by inherited
*soft* accuracy (mean true-class probability, the ``soft_accuracy`` search objective)
against the same stand-alone accuracies (better than top-1 on digits, worse on MNIST-1D).

``--tuned-reference`` adds one more reference, ``tuned``: each architecture at the
recipe (among the references given) with its best mean validation accuracy over
the seeds, i.e. stand-alone hyper-parameters tuned per network on validation. One
fixed recipe favours some networks (MNIST-1D: networks with two FC layers gain
more from strong regularisation than those with one); the tuned reference is
each network's own best. ``chosen`` in its summary says how many networks took
each recipe.

``--finetune-epochs N`` also scores each supernet's sub-networks after ``N``
epochs of fine-tuning their inherited weights on the training split (the first
reference's stand-alone settings, learning rate ``--finetune-lr``, cosine
schedule, seed 0), as extra variants named ``"<variant> +ftN"``: a ranking by
"inherited + short fine-tune", which is *not* the inherited accuracy.

``alone_seed_vs_seed_tau`` in the output is Kendall tau between the stand-alone
seeds themselves: how well one stand-alone run ranks like another. It is the
noise floor of the reference; a supernet cannot be expected to rank a few-seed
mean much better than that mean ranks itself. ``alone_one_vs_rest_tau`` (per
reference) is each stand-alone seed against the mean of the other seeds: what
training every network alone *once* achieves; each result's
``kendall_tau_vs_rest_median`` scores the supernet against the same
leave-one-seed-out means, so the two compare like with like.

    .venv/bin/python benchmarks/bench_supernet_kendall.py --config examples/mnist1d.yaml --n 20 --seeds 3
    .venv/bin/python benchmarks/bench_supernet_kendall.py --config examples/digits.yaml --n 20 --seeds 3 \
        --variant sandwich_random=3 --variant seed=1
    # MNIST-1D: against the config's recipe and the regularised one (chosen on validation accuracy)
    .venv/bin/python benchmarks/bench_supernet_kendall.py --config examples/mnist1d.yaml --n 20 --seeds 4 \
        --alone-epochs 60 --variant seed=1 --variant seed=2 --alone-training weight_decay=0.5,label_smoothing=0.1
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import yaml
from scipy.stats import kendalltau, spearmanr

from hwnas.app.components import build_space
from hwnas.app.config import load_config
from hwnas.core.errors import ConfigError
from hwnas.core.plaindata import read_json, write_json
from hwnas.data import get_dataset
from hwnas.supernet.calibrate import accuracy, scores
from hwnas.supernet.fewshot import make_supernet
from hwnas.supernet.ranking import TUNED, add_tuned_reference, check_tunable, leave_one_out_taus, spread_archs
from hwnas.supernet.standalone import (
    STANDALONE_FIELDS,
    alone_key,
    parse_alone_training,
    parse_training,
    train_alone,
    train_standalone,
)
from hwnas.supernet.train import SupernetTrainer


def parse_shard(text: str) -> tuple[int, int]:
    """``"K/N"`` -> (K, N) with 0 <= K < N; a clear error otherwise."""
    k, sep, n = text.partition("/")
    try:
        k_i, n_i = int(k), int(n)
    except ValueError:
        k_i, n_i = -1, 0
    if not sep or n_i < 1 or not 0 <= k_i < n_i:
        raise SystemExit(f"--shard {text!r}: expected K/N with 0 <= K < N, e.g. 0/2")
    return k_i, n_i


def main() -> None:
    try:
        run()
    except ConfigError as e:
        raise SystemExit(f"{Path(sys.argv[0]).name}: {e}") from None


def run() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", type=Path, default=Path("examples/digits.yaml"))
    p.add_argument("--n", type=int, default=20)
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--epochs", type=int, default=None, help="override supernet.training.epochs (also stand-alone)")
    p.add_argument("--alone-epochs", type=int, default=None,
                   help="stand-alone training epochs (default: the supernet's epochs)")
    p.add_argument("--variant", action="append", default=[],
                   help="also train a supernet with these training settings changed, e.g. 'sandwich_random=3,seed=1'")
    p.add_argument("--extra-epochs", type=int, nargs="*", default=[], help="short for --variant epochs=N")
    p.add_argument("--no-base", action="store_true", help="train only the --variant supernets")
    p.add_argument("--alone-training", action="append", default=[], metavar="K=V,...",
                   help="also score against stand-alone references trained with these settings changed "
                        f"(keys: {', '.join(STANDALONE_FIELDS)}), e.g. 'weight_decay=0.2'")
    p.add_argument("--no-default-reference", action="store_true",
                   help="score only against the --alone-training references")
    p.add_argument("--tuned-reference", action="store_true",
                   help="also score against a per-architecture tuned reference: each network at the stand-alone "
                        "recipe (among the references) with its best mean validation accuracy")
    p.add_argument("--space-option", action="append", default=[], metavar="KEY=VALUE",
                   help="set a space.options entry (YAML value), e.g. max_fc=3; other networks, "
                        "so other stand-alone references")
    p.add_argument("--finetune-epochs", type=int, default=0,
                   help="also score sub-networks after this many epochs of fine-tuning the inherited weights")
    p.add_argument("--finetune-lr", type=float, default=3e-4, help="peak learning rate of that fine-tuning")
    p.add_argument("--cache", type=Path, default=Path("runs/standalone_cache.json"))
    p.add_argument("--out", type=Path, default=None, help="JSON file for the per-architecture figures")
    p.add_argument("--shard", default=None, metavar="K/N",
                   help="only fill --cache with the stand-alone runs of architectures K, K+N, K+2N, ... (0-based) and "
                        "stop: N processes, each with its own --cache, then merge the caches and run again without "
                        "--shard for the figures")
    args = p.parse_args()
    shard = parse_shard(args.shard) if args.shard else None
    cfg = load_config(args.config)
    if args.epochs:
        cfg.supernet.training.epochs = args.epochs
    for item in args.space_option:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"--space-option {item!r}: expected KEY=VALUE")
        cfg.space.options[key] = yaml.safe_load(value)
    torch.set_num_threads(cfg.threads)
    data = get_dataset(cfg.data.name, **cfg.data.options)
    space = build_space(cfg, data)
    base = cfg.supernet.training
    alone_epochs = args.alone_epochs or base.epochs
    variants = {} if args.no_base else {"config": base}
    for text in [*args.variant, *(f"epochs={e}" for e in args.extra_epochs)]:
        variants[text] = parse_training(text, base, "--variant")
    # reference name -> stand-alone settings, ``epochs`` the reference's training length
    alone_base = base.model_copy(update={"epochs": alone_epochs})
    references = {} if args.no_default_reference else {"config": alone_base}
    for text in args.alone_training:
        references[text] = parse_alone_training(text, alone_base)
    if not references:
        raise SystemExit("--no-default-reference needs at least one --alone-training")
    if args.tuned_reference:
        check_tunable(list(references))
    from hwnas.evaluators.supernet import SupernetEvaluator

    trained = {}  # variant -> (evaluator, wall seconds, cpu seconds)
    for name, tcfg in variants.items():
        torch.manual_seed(tcfg.seed)  # the initial weights too, so a run can be repeated exactly
        net = make_supernet(space, tcfg.few_shot)
        t0, c0 = time.perf_counter(), time.process_time()
        SupernetTrainer(net, data, tcfg).train()
        trained[name] = (SupernetEvaluator(net, data, "test", cfg.evaluator.options["calib_samples"]),
                         time.perf_counter() - t0, time.process_time() - c0)
        print(f"supernet {name!r}: {trained[name][1]:.0f} s wall, {trained[name][2]:.0f} s CPU", flush=True)
    cache = read_json(args.cache, "stand-alone cache") if args.cache.exists() else {}
    archs = spread_archs(space, args.n)
    rows = []
    for i, a in enumerate(archs):
        if shard and i % shard[1] != shard[0]:
            continue
        inherited, inherited_val, soft, soft_val = {}, {}, {}, {}
        for v, (ev, _, _) in trained.items():  # BN recalibrated once, then scored on test and on validation
            arch = ev.recalibrated(a)
            test, val = (scores(ev.net, x, y, arch) for x, y in ((data.x_test, data.y_test), (data.x_val, data.y_val)))
            inherited[v], soft[v] = test["accuracy"], test["soft_accuracy"]
            inherited_val[v], soft_val[v] = val["accuracy"], val["soft_accuracy"]
        if args.finetune_epochs:
            ft_cfg = next(iter(references.values())).model_copy(update={"lr": args.finetune_lr})
            for v, (ev, _, _) in trained.items():
                model = train_standalone(ev.extract(a), data, ft_cfg, seed=0, epochs=args.finetune_epochs)
                inherited[f"{v} +ft{args.finetune_epochs}"] = accuracy(model, data.x_test, data.y_test)
        alone, alone_val = {}, {}
        for ref, rcfg in references.items():
            alone[ref], alone_val[ref] = [], []
            for s in range(args.seeds):
                key = alone_key(space, data, a, rcfg, s)
                if key not in cache or "val_accuracy" not in cache[key]:
                    model = train_alone(space, data, a, rcfg, s)
                    acc = accuracy(model, data.x_test, data.y_test)
                    if key in cache and abs(cache[key]["accuracy"] - acc) > 1e-9:  # an entry from before val
                        print(f"warning: {space.format(a)} seed {s}: test accuracy {acc:.2f} now, "
                              f"{cache[key]['accuracy']:.2f} cached; keeping the new run", flush=True)
                    cache[key] = {"arch": space.format(a), "seed": s, "epochs": rcfg.epochs, "accuracy": acc,
                                  "val_accuracy": accuracy(model, data.x_val, data.y_val)}
                    write_json(args.cache, cache)
                alone[ref].append(cache[key]["accuracy"])
                alone_val[ref].append(cache[key]["val_accuracy"])
        macs = sum(lay.macs for lay in space.layers(a))
        first = next(iter(references))
        rows.append({"arch": space.format(a), "macs": macs, "inherited": inherited,
                     "inherited_val": inherited_val, "inherited_soft": soft, "inherited_soft_val": soft_val,
                     "alone": alone[first],
                     "alone_mean": float(np.mean(alone[first])), "alone_by_reference": alone,
                     "alone_val_by_reference": alone_val})
        print(f"{i + 1:2d}/{len(archs)} macs {macs:8d} inherited "
              f"{' '.join(f'{v:6.2f}' for v in inherited.values())} alone "
              + " | ".join(f"{np.mean(v):6.2f} (seeds {', '.join(f'{x:.2f}' for x in v)})" for v in alone.values()),
              flush=True)
    if shard:
        print(f"shard {args.shard}: {len(rows)} architectures' stand-alone runs in {args.cache}; merge the shards' "
              "caches and run again without --shard for the figures", flush=True)
        return
    ref_names = list(references)
    if args.tuned_reference:
        add_tuned_reference(rows, ref_names)
        ref_names.append(TUNED)
    results, refs = [], []
    for ref in ref_names:
        per_seed = np.array([r["alone_by_reference"][ref] for r in rows]).T
        ref_mean = per_seed.mean(0)
        # noise ceiling: how well one stand-alone seed ranks like another one
        seed_pairs = [float(kendalltau(per_seed[i], per_seed[j]).statistic)
                      for i, j in itertools.combinations(range(args.seeds), 2)]
        training = ({"per_architecture_best_val_of": list(references),
                     "chosen": {n: sum(r["tuned_choice"] == n for r in rows) for n in references}}
                    if ref == TUNED else {k: getattr(references[ref], k) for k in (*STANDALONE_FIELDS, "epochs")})
        # one stand-alone run per network against the other seeds' mean: the supernet's fair competitor
        one_vs_rest = leave_one_out_taus(per_seed) if args.seeds > 1 else []
        refs.append({"reference": ref, "training": training,
                     "alone_mean_test": float(ref_mean.mean()),
                     "alone_mean_val": float(np.mean([r["alone_val_by_reference"][ref] for r in rows])),
                     "alone_seed_vs_seed_tau": seed_pairs,
                     "alone_one_vs_rest_tau": one_vs_rest,
                     "alone_one_vs_rest_tau_median": float(np.median(one_vs_rest)) if one_vs_rest else None})
        for name in rows[0]["inherited"]:
            base_name = name.split(" +ft")[0]
            _, wall, cpu = trained[base_name]
            inh = np.array([r["inherited"][name] for r in rows])
            # the same ranking on the validation split (inherited vs the stand-alone runs' mean val accuracy):
            # choose supernet variants by this one, report the test figure
            ref_val = [np.mean(r["alone_val_by_reference"][ref]) for r in rows]
            val_tau = (float(kendalltau([r["inherited_val"][name] for r in rows], ref_val).statistic)
                       if name in rows[0]["inherited_val"] else None)
            # the supernet ranking by inherited soft accuracy (mean true-class probability) instead of top-1
            soft_tau, soft_tau_val = (
                (float(kendalltau([r["inherited_soft"][name] for r in rows], ref_mean).statistic),
                 float(kendalltau([r["inherited_soft_val"][name] for r in rows], ref_val).statistic))
                if name in rows[0]["inherited_soft"] else (None, None))
            seed_taus = [kendalltau(inh, per_seed[s]).statistic for s in range(args.seeds)]
            results.append({"variant": name, "reference": ref, "supernet_epochs": variants[base_name].epochs,
                            "kendall_tau": float(kendalltau(inh, ref_mean).statistic),
                            "kendall_tau_val": val_tau,
                            "kendall_tau_soft": soft_tau, "kendall_tau_soft_val": soft_tau_val,
                            "kendall_tau_per_seed": [float(t) for t in seed_taus],
                            # against the same leave-one-seed-out references as alone_one_vs_rest_tau
                            "kendall_tau_vs_rest_median": (float(np.median(leave_one_out_taus(per_seed, inh)))
                                                           if args.seeds > 1 else None),
                            "spearman": float(spearmanr(inh, ref_mean).statistic),
                            "mean_gap_points": float(np.mean(ref_mean - inh)), "train_seconds": wall,
                            "train_cpu_seconds": cpu})
    summary = {"config": str(args.config), "space": space.name, "data": data.name, "n": len(rows),
               "alone_epochs": alone_epochs, "seeds": args.seeds, "references": refs,
               "alone_seed_vs_seed_tau": refs[0]["alone_seed_vs_seed_tau"], "results": results}
    print(json.dumps(summary, indent=1))
    if args.out:
        write_json(args.out, {"summary": summary, "rows": rows})


if __name__ == "__main__":
    main()
