"""InstaTune pays: sub-networks of a supernet InstaTuned from a dense pre-trained model against the same
sub-networks sliced from that model and fine-tuned alone, and against plain fine-tuning of the dense model.

1. A dense model (the ``text_encoder`` space's largest network) is pre-trained on the synthetic language's
   ``topic`` task with ``--pretrain-topics`` (6) topics (``--pretrain-epochs``); the target task is the same
   language with ``--topics`` (12) topics, each coarse topic split in two (finer labels, a new head).
2. InstaTune's start (what ``supernet.init`` does): the new head is fitted as a linear probe of the pre-trained
   features (``--probe-head``), then heads, MLP neurons and embedding channels are reordered most important on
   the target task first (``--rewire``, :mod:`hwnas.supernet.rewire`; the dense function is unchanged).
   From there the supernet is tuned for ``--epochs``: ``--warmup-epochs`` (5) of the largest network alone,
   then the sandwich rule with ``--sandwich-random`` (2) random sub-networks per step and in-place distillation.
3. Plain fine-tuning: the dense model alone with its fresh head, same epochs, optimizer and schedule (labels
   only); also reported from InstaTune's start (probed head).
4. Per size (``--sizes`` sub-networks spread over MACs, smallest to largest): the sub-network sliced from the
   pre-trained model as given and fine-tuned alone for the same epochs (the bar's reference); also reported:
   the same sliced from InstaTune's start (probed and rewired) and fine-tuned alone, which separates what the
   start gives from what the sandwich rule gives.

Accuracies are on the test split, the median over ``--seeds`` (weights of the new head and batch order);
times are the process's CPU seconds (the machine is shared), one thread; InstaTune's include its start.

    PYTHONPATH=src python benchmarks/bench_instatune.py --seeds 3 --out benchmarks/results/instatune.json

Seeds run in parallel with ``--first-seed K --seeds 1`` each; their ``--out`` files merge with ``--combine``.

Bars: InstaTune >= sliced + fine-tuned on >= 4 of 5 sizes; its largest within 0.5 point of plain fine-tuning
of the dense model; InstaTune's CPU time <= 2x plain fine-tuning's.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from hwnas.data import get_dataset
from hwnas.spaces import get_space
from hwnas.supernet.calibrate import accuracy
from hwnas.supernet.pretrained import DenseView, load_pretrained, pretrain_dense
from hwnas.supernet.ranking import spread_archs
from hwnas.supernet.rewire import probe_head, rewire
from hwnas.supernet.settings import TrainingConfig
from hwnas.supernet.standalone import train_standalone
from hwnas.supernet.train import SupernetTrainer

SPACE = {"widths": [16, 24, 32], "depths": [1, 2, 3], "heads": [1, 2, 4], "mlp_sizes": [32, 48, 64], "head_dim": 8}


def _cpu(fn, *args, **kwargs):
    t = time.process_time()
    out = fn(*args, **kwargs)
    return out, time.process_time() - t


def _dense(space, path):
    net = space.build_supernet()
    load_pretrained(path, net)
    return net, space.largest()


def run(args) -> dict:
    torch.set_num_threads(1)
    opts = {"seq_len": args.seq_len, "num_samples": args.samples}
    source = get_dataset("synthetic_text", task="topic", topics=args.pretrain_topics, **opts)
    target = get_dataset("synthetic_text", task="topic", topics=args.topics, **opts)
    space = get_space("text_encoder", input_shape=[args.seq_len], num_classes=target.num_classes, vocab_size=64,
                      **SPACE)
    dense_space = get_space("text_encoder", **{**space.options(), "num_classes": source.num_classes})
    dense_path = Path(args.workdir) / "dense.safetensors"
    pre = TrainingConfig(epochs=args.pretrain_epochs, batch_size=64, lr=3e-3)
    torch.manual_seed(1234)
    _, t_pre = _cpu(pretrain_dense, dense_space.build_supernet(), source, pre, dense_path)
    print(f"pre-trained dense model on {source.name} ({args.pretrain_topics} topics) in {t_pre:.0f} s CPU: test "
          f"accuracy {accuracy(DenseView(*_dense(dense_space, dense_path)), *source.split('test')):.1f}", flush=True)
    tune = TrainingConfig(epochs=args.epochs, batch_size=64, lr=args.lr, sandwich_random=args.sandwich_random,
                          distill=args.distill, warmup_epochs=args.warmup_epochs)
    sizes = spread_archs(space, args.sizes, seed=0)
    macs = [sum(lay.macs for lay in space.layers(a)) for a in sizes]
    x, y = target.split("test")

    def start(seed, prepared):
        torch.manual_seed(seed)  # the new head's weights
        net = space.build_supernet()
        load_pretrained(dense_path, net, new_head=True)
        if prepared and args.probe_head:
            probe_head(net, target.x_train, target.y_train, seed=seed)
        if prepared and args.rewire:
            rewire(net, target.x_train, target.y_train, seed=seed, probe=not args.probe_head)
        return net

    rows = {k: [] for k in ("insta", "sliced", "sliced_start", "plain", "plain_start", "t_insta", "t_plain",
                            "t_start", "t_sliced")}
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        cfg = tune.model_copy(update={"seed": seed})
        net, t0 = _cpu(start, seed, True)
        _, t = _cpu(SupernetTrainer(net, target, cfg).train)
        rows["t_start"].append(t0)
        rows["t_insta"].append(t0 + t)
        rows["insta"].append([accuracy(net, x, y, a) for a in sizes])
        for key, prepared in (("plain", False), ("plain_start", True)):
            dense = start(seed, prepared)
            _, t = _cpu(train_standalone, DenseView(dense, space.largest()), target, cfg, seed=seed)
            if not prepared:
                rows["t_plain"].append(t)
            rows[key].append(accuracy(dense, x, y, space.largest()))
        for key, prepared in (("sliced", False), ("sliced_start", True)):
            sliced = []
            for a in sizes:
                module = start(seed, prepared).extract(a)
                _, t = _cpu(train_standalone, module.train(), target, cfg, seed=seed)
                rows["t_sliced"].append(t)
                sliced.append(accuracy(module, x, y))
            rows[key].append(sliced)
        print(f"seed {seed}: insta {np.round(rows['insta'][-1], 1).tolist()} sliced "
              f"{np.round(rows['sliced'][-1], 1).tolist()} sliced from InstaTune's start "
              f"{np.round(rows['sliced_start'][-1], 1).tolist()} plain {rows['plain'][-1]:.1f} (from InstaTune's "
              f"start {rows['plain_start'][-1]:.1f}); CPU insta {rows['t_insta'][-1]:.0f} s plain "
              f"{rows['t_plain'][-1]:.0f} s", flush=True)
    def flag(k, v):
        k = k.replace("_", "-")
        return (f"--{k}" if v else f"--no-{k}") if isinstance(v, bool) else f"--{k} {v}"

    command = "benchmarks/bench_instatune.py " + " ".join(flag(k, v) for k, v in vars(args).items()
                                                          if k not in ("out", "workdir", "combine"))
    return summarize(command, [space.format(a) for a in sizes], macs, rows, t_pre)


def summarize(command: str, archs: list[str], macs: list[int], rows: dict, t_pre: float) -> dict:
    """Figures over the seeds in ``rows``: the median over seeds per size, and the spread (min, max)."""
    med = {k: np.median(rows[k], 0) for k in ("insta", "sliced", "sliced_start")}
    insta, sliced, sliced_start = med["insta"], med["sliced"], med["sliced_start"]
    plain = float(np.median(rows["plain"]))

    def spread(k, i):
        return [float(np.min(np.transpose(rows[k])[i])), float(np.max(np.transpose(rows[k])[i]))]

    summary = {
        "command": command, "seeds": len(rows["insta"]),
        "sizes": [{"arch": a, "macs": m, "instatune": round(float(insta[i]), 2),
                   "sliced_finetuned": round(float(sliced[i]), 2),
                   "sliced_from_start_finetuned": round(float(sliced_start[i]), 2),
                   "instatune_range": spread("insta", i), "sliced_range": spread("sliced", i),
                   "sliced_from_start_range": spread("sliced_start", i)}
                  for i, (a, m) in enumerate(zip(archs, macs))],
        "wins": int((insta >= sliced).sum()), "of": len(archs),
        "wins_vs_sliced_from_start": int((insta >= sliced_start).sum()),
        "largest_instatune": round(float(insta[-1]), 2), "plain_finetune": round(plain, 2),
        "plain_finetune_from_start": round(float(np.median(rows["plain_start"])), 2),
        "largest_gap": round(plain - float(insta[-1]), 2),
        "largest_gap_per_seed": [round(p - i[-1], 2) for p, i in zip(rows["plain"], rows["insta"])],
        "cpu_s_instatune": round(float(np.mean(rows["t_insta"])), 1),
        "cpu_s_instatune_start": round(float(np.mean(rows["t_start"])), 1),
        "cpu_s_plain_finetune": round(float(np.mean(rows["t_plain"])), 1),
        "cost_ratio": round(float(np.mean(rows["t_insta"]) / np.mean(rows["t_plain"])), 2),
        "cpu_s_pretrain": round(t_pre, 1), "per_seed": rows,
    }
    return summary


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seq-len", type=int, default=24)
    p.add_argument("--samples", type=int, default=8000)
    p.add_argument("--topics", type=int, default=12)
    p.add_argument("--pretrain-topics", type=int, default=6)
    p.add_argument("--pretrain-epochs", type=int, default=15)
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--sandwich-random", type=int, default=2)
    p.add_argument("--distill", type=float, default=0.5)
    p.add_argument("--warmup-epochs", type=int, default=5, help="of --epochs: the largest network alone first")
    p.add_argument("--rewire", action=argparse.BooleanOptionalAction, default=True,
                   help="reorder heads, neurons and channels most important first (hwnas.supernet.rewire)")
    p.add_argument("--probe-head", action=argparse.BooleanOptionalAction, default=True,
                   help="the new head starts as a linear probe of the pre-trained features")
    p.add_argument("--sizes", type=int, default=5)
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--workdir", default="runs/bench_instatune")
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--first-seed", type=int, default=0, help="seeds first-seed .. first-seed + seeds - 1")
    p.add_argument("--combine", type=Path, nargs="*", default=None, metavar="JSON",
                   help="only merge the per-seed rows of earlier --out files (seeds run in separate processes)")
    args = p.parse_args()
    if args.combine:
        parts = [json.loads(f.read_text()) for f in args.combine]
        rows = {k: [v for part in parts for v in part["per_seed"][k]] for k in parts[0]["per_seed"]}
        summary = summarize(parts[0]["command"].replace(f"--seeds {parts[0]['seeds']}", f"--seeds {len(rows['insta'])}"),
                            [s["arch"] for s in parts[0]["sizes"]], [s["macs"] for s in parts[0]["sizes"]], rows,
                            parts[0]["cpu_s_pretrain"])
    else:
        Path(args.workdir).mkdir(parents=True, exist_ok=True)
        summary = run(args)
    text = json.dumps({k: v for k, v in summary.items() if k != "per_seed"}, indent=1)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
