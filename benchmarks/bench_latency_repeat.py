"""Latency repeatability: the same model measured 5 times (no cache); coefficient of variation of the medians.

Models: the largest and smallest sub-networks of the digits MobileNet space and
of the MNIST-1D signal space, ONNX Runtime (1 thread) and PyTorch eager.

    .venv/bin/python benchmarks/bench_latency_repeat.py --times 5 --repeats 20
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch

from hwnas.hardware.measure import device_fingerprint, measure_latency
from hwnas.spaces.mobilenet import MobileNetSpace
from hwnas.spaces.signal1d import Signal1DSpace


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--times", type=int, default=5)
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--runtimes", default="onnxruntime,torch")
    args = p.parse_args()
    torch.set_num_threads(1)
    rows = []
    for space in (MobileNetSpace(), Signal1DSpace()):
        for which in ("largest", "smallest"):
            module = space.build(getattr(space, which)())
            for runtime in args.runtimes.split(","):
                med = [measure_latency(module, (1, *space.input_shape), runtime, 1, args.warmup, args.repeats).median_ms
                       for _ in range(args.times)]
                cv = float(np.std(med) / np.mean(med))
                rows.append({"space": space.name, "model": which, "runtime": runtime, "medians_ms": med, "cv": cv})
                print(f"{space.name:10s} {which:8s} {runtime:12s} median {np.median(med):.4f} ms  "
                      f"CV over {args.times} = {100 * cv:.2f}%", flush=True)
    print(json.dumps({"device": device_fingerprint(), "max_cv": max(r["cv"] for r in rows)}, indent=1))


if __name__ == "__main__":
    main()
