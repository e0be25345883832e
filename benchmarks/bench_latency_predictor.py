"""Benchmark: learned latency/energy predictor and few-shot transfer on real Raspberry Pi 5 measurements.

    .venv/bin/python benchmarks/bench_latency_predictor.py [--seeds 10] [--members 8] [--json OUT]
    .venv/bin/python benchmarks/bench_latency_predictor.py --ablation [--seeds 5]   # what each piece adds

Data: ``../shared/benchdata/nb201_hw.csv`` (override with HWNAS_SHARED). For
every measured column: fit on N = 100 and N = 20 random architectures, score
on all the other rows (Kendall tau, share within +-10 %), median and
min..max over seeds. Transfer: fit on every row of a source column, adapt to
a target column with 20 random rows, score on the rest.

Bars (issue 4): N=100 tau >= 0.75 and >= 60 % within 10 %; N=20 tau >= 0.65;
transfer with <= 20 samples tau >= 0.75. The last column names the (view,
measurement protocol) each seed's cross-validation chose, and the mean seconds
per seed (fit on N rows + predict the rest).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

from hwnas.costs.latency.evaluation import evaluate, load_table

ROOT = Path(__file__).resolve().parents[1]


def data_path() -> Path:
    shared = Path(os.environ.get("HWNAS_SHARED", ROOT.parent / "shared"))
    return shared / "benchdata" / "nb201_hw.csv"


def summary(values: list[float]) -> str:
    return f"{np.median(values):.3f} ({min(values):.3f}..{max(values):.3f})"


def chosen(views: list[str]) -> str:
    return ", ".join(f"{v} x{k}" for v, k in Counter(views).most_common())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--members", type=int, default=8)
    ap.add_argument("--json", help="write all per-seed scores here")
    ap.add_argument("--skip-transfer", action="store_true")
    ap.add_argument("--ablation", action="store_true",
                    help="only the ablation: latency columns with the view / measurement protocol fixed")
    args = ap.parse_args(argv)
    path = data_path()
    if not path.exists():
        print(f"skipped: benchmark data not found at {path} (set HWNAS_SHARED)", file=sys.stderr)
        return 0
    table = load_table(path)
    if args.ablation:
        return ablation(table, args)
    columns = [c for c in table.frame.columns if c.startswith("pi5_")]
    results: dict = {"fit": {}, "transfer": {}}
    print("| target | N | Kendall tau, median (min..max) | within 10 %, median (min..max) | bar met | chosen; s/seed |")
    print("|---|---|---|---|---|---|")
    for col in columns:
        for n in (100, 20):
            t0 = time.perf_counter()
            r = evaluate(table, col, n, seeds=args.seeds, members=args.members)
            tau, w = np.median(r["kendall_tau"]), np.median(r["within_10pct"])
            met = (tau >= 0.75 and w >= 0.60) if n == 100 else tau >= 0.65
            seconds = time.perf_counter() - t0
            results["fit"][f"{col}@{n}"] = {**r, "seconds": seconds}
            print(f"| {col} | {n} | {summary(r['kendall_tau'])} | {summary(r['within_10pct'])} | "
                  f"{'yes' if met else 'no'} | {chosen(r['views'])}; {seconds / args.seeds:.2f} |", flush=True)
    if not args.skip_transfer:
        print()
        print("| source (all rows) -> target (20 rows) | Kendall tau, median (min..max) | within 10 % | bar met "
              "| chosen |")
        print("|---|---|---|---|---|")
        for src in ("pi5_onnx_latency_ms", "pi5_litert_latency_ms", "pi5_torchmobile_latency_ms"):
            for col in columns:
                if col == src:
                    continue
                r = evaluate(table, col, 20, seeds=args.seeds, transfer_from=src, transfer_size=20,
                             members=args.members)
                tau = np.median(r["kendall_tau"])
                results["transfer"][f"{src}->{col}"] = r
                print(f"| {src} -> {col} | {summary(r['kendall_tau'])} | {summary(r['within_10pct'])} | "
                      f"{'yes' if tau >= 0.75 else 'no'} | prior kept {sum(r['transfer_used'])}/{args.seeds}; "
                      f"{chosen(r['views'])} |", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


def ablation(table, args) -> int:
    """Median tau / within-10 % with parts of the model's knowledge switched off."""
    shuffled = table.frame.sample(frac=1.0, random_state=0).drop(columns=["index"]).reset_index(drop=True)
    settings = [
        ("full model (view and protocol chosen by CV)", table, {}),
        ("representative=own (protocol knowledge off)", table, {"representative": "own"}),
        ("view=executed (only the dead-code-pruned view)", table, {"view": "executed"}),
        ("view=executed, representative=own (the previous model)", table,
         {"view": "executed", "representative": "own"}),
        ("rows shuffled, no index column (protocol not detectable)", load_table(shuffled), {}),
    ]
    cols = ["pi5_onnx_latency_ms", "pi5_litert_latency_ms", "pi5_torchmobile_latency_ms"]
    head = [f"{c.split('_')[1]} N={n}" for c in cols for n in (100, 20)]
    print("| setting | " + " | ".join(head) + " |")
    print("|---|" + "---|" * len(head))
    results = {}
    for name, tab, kw in settings:
        cells = []
        for col in cols:
            for n in (100, 20):
                r = evaluate(tab, col, n, seeds=args.seeds, members=args.members, **kw)
                results[f"{name}|{col}@{n}"] = r
                cells.append(f"{np.median(r['kendall_tau']):.3f} / {np.median(r['within_10pct']):.2f}")
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
