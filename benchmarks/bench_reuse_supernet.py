"""A second study on a trained supernet: its wall time against the first run's, and that it trains nothing.

1. the demo (``examples/digits.yaml``) into a fresh ``--out`` with an empty latency cache
   (``HWNAS_CACHE`` set to a new folder): train the supernet, search, export; timed;
2. a second study in the same folder, ``study.name: low_latency``, with a new constraint
   ``latency_ms <= X`` (X: the median latency of the first front), everything else as the demo
   (same budget); timed. Checked: the checkpoint's bytes are unchanged (sha256), the job printed no
   training, and the second study wrote its own front (``OUT/low_latency/front.csv``) while the first
   study's ``front.csv`` is unchanged.

Bar: the second study takes < 25 % of the first run's time and trains nothing.

    .venv/bin/python benchmarks/bench_reuse_supernet.py --out runs/bench_reuse --json benchmarks/results/reuse_supernet.json
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", type=Path, default=Path("examples/digits.yaml"))
    p.add_argument("--out", type=Path, default=Path("runs/bench_reuse"))
    p.add_argument("--study", default="low_latency")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()
    os.environ["HWNAS_CACHE"] = tempfile.mkdtemp(prefix="hwnas-cache-")  # before hwnas reads it

    from rich.console import Console

    from hwnas.app.api import run_config
    from hwnas.app.config import load_config

    shutil.rmtree(args.out, ignore_errors=True)
    cfg = load_config(args.config)
    t0 = time.perf_counter()
    run_config(cfg, args.out, console=Console(quiet=True), quiet=True)
    first = time.perf_counter() - t0
    ck = args.out / "supernet.safetensors"
    ck_hash = hashlib.sha256(ck.read_bytes()).hexdigest()
    front1 = (args.out / "front.csv").read_text()
    lat = [float(r["latency_ms"]) for r in csv.DictReader(io.StringIO(front1))]
    bound = round(statistics.median(lat), 4)

    cfg2 = load_config(args.config)
    cfg2 = cfg2.model_copy(update={"constraints": [f"latency_ms <= {bound}"]})
    log = io.StringIO()
    t0 = time.perf_counter()
    run_config(cfg2, args.out, console=Console(file=log, width=200), quiet=True, study=args.study)
    second = time.perf_counter() - t0
    text = log.getvalue()
    rows2 = list(csv.DictReader((args.out / args.study / "front.csv").open()))
    result = {
        "config": str(args.config), "first_run_s": round(first, 1), "second_study_s": round(second, 1),
        "ratio": round(second / first, 3), "constraint": f"latency_ms <= {bound}",
        "checkpoint_unchanged": hashlib.sha256(ck.read_bytes()).hexdigest() == ck_hash,
        "second_study_trained": "supernet: trained" in text or "train supernet" in text,
        "reused_message": "reusing trained checkpoint" in text,
        "first_front_unchanged": (args.out / "front.csv").read_text() == front1,
        "first_front_rows": len(lat), "second_front_rows": len(rows2),
        "second_front_max_latency_ms": max(float(r["latency_ms"]) for r in rows2) if rows2 else None,
        "cpu": os.cpu_count(),
    }
    result["bar_met"] = (result["ratio"] < 0.25 and result["checkpoint_unchanged"]
                         and not result["second_study_trained"] and result["first_front_unchanged"])
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
