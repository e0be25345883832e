"""Uniform int8 post-training quantization of the best digits and MNIST-1D front members, in ONNX Runtime.

Per task, one supernet (trained once and cached under ``--out``: digits with ``examples/digits.yaml``'s
settings, MNIST-1D with ``examples/mnist1d.yaml``'s but one shared supernet of ``--mnist1d-epochs``, to fit a
busy 2-core machine), an fp32 architecture search (``--budget`` evaluations, NSGA-II, accuracy vs size on the
validation split), and each front member post-training quantized to uniform int8
(``hwnas.compress.ptq``: QDQ, S8S8, per-channel, MinMax on 256 training samples). Reported per member:
test accuracy of the fp32 ONNX model and of the int8 one (ONNX Runtime, the int8 file written and loaded
fresh), the files' sizes and their ratio, parameters, and both files' latency on the project's timer
(``measure_latency``, 1 thread, batch 1): the train-once export keeps the int8 model only where it is not
slower (``hwnas.app.quantized_front``), so ``exported_ms`` is never above ``fp32_ms``.

Bars: the best members (the most accurate of each front) lose <= 0.5 point; every member with >= 30k
parameters is >= 3x smaller in int8.

    .venv/bin/python benchmarks/bench_quantize.py --out runs/bench_quantize --json benchmarks/results/quantize.json
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TASKS = ("digits", "mnist1d")


def task_config(task: str, mnist1d_epochs: int = 200) -> dict:
    """The example config of ``task`` with the supernet settings this benchmark trains."""
    import yaml

    raw = yaml.safe_load((ROOT / "examples" / f"{task}.yaml").read_text())
    if task == "mnist1d":
        raw["supernet"]["training"].pop("few_shot", None)
        raw["supernet"]["training"]["epochs"] = mnist1d_epochs
    return raw


def task_setup(task: str, out: Path, mnist1d_epochs: int = 200):
    """(base space, data, the supernet evaluator on the validation split) of ``task``, its supernet trained once
    into ``out/<task>/supernet.safetensors`` and reused."""
    from rich.console import Console

    from hwnas.app.components import build_data, build_quality, build_trainable_space
    from hwnas.app.config import parse_config
    from hwnas.app.train import train_supernet
    from hwnas.app.train_once import _file_id

    cfg = parse_config(task_config(task, mnist1d_epochs), task)
    data = build_data(cfg)
    space = build_trainable_space(cfg, data)
    ckpt = out / task / "supernet.safetensors"
    ckpt.parent.mkdir(parents=True, exist_ok=True)
    net, _ = train_supernet(cfg, space, data, ckpt, Console(stderr=True), quiet=True)
    quality = build_quality(cfg, space, [], data=data, net=net, identity=_file_id(ckpt))
    return space, data, quality


def ptq_parts(base, quality, precisions, per="block", repeats=10, max_drop=100.0):
    """The quantized space of ``base`` and its evaluator: PTQ accuracy + latency of the deployed model + size."""
    from hwnas.compress.ptq import Calibration
    from hwnas.costs.measure import MeasuredLatency, default_cache_path
    from hwnas.costs.size import SizeModel
    from hwnas.evaluators.base import CombinedEvaluator
    from hwnas.evaluators.cost import CostEvaluator
    from hwnas.evaluators.quantized import PTQEvaluator
    from hwnas.spaces.quantized import QuantizedSpace

    space = QuantizedSpace(base, precisions, per=per)
    ptq = PTQEvaluator(quality, space, Calibration("minmax", 256), max_drop)
    lat = CostEvaluator(MeasuredLatency(repeats=repeats, warmup=3, cache=default_cache_path()))
    return space, ptq, CombinedEvaluator([ptq, lat, CostEvaluator(SizeModel())])


def fp32_front(base, quality, budget: int, seed: int = 0):
    from hwnas.core.objectives import Objective
    from hwnas.strategies import get_strategy
    from hwnas.study import Study

    space, _, ev = ptq_parts(base, quality, ["fp32"], per="network")
    study = Study(space, ev, [Objective.parse("accuracy:max"), Objective.parse("size_kb:min")],
                  get_strategy("nsga2"), seed=seed)
    study.optimize(budget)
    return space, study.pareto_front()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("runs/bench_quantize"))
    p.add_argument("--budget", type=int, default=20)
    p.add_argument("--mnist1d-epochs", type=int, default=200)
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()
    os.environ.setdefault("HWNAS_CACHE", tempfile.mkdtemp(prefix="hwnas-cache-"))
    import torch

    from hwnas.costs.measure import measure_latency
    from hwnas.export.onnx import onnx_accuracy, to_onnx_bytes
    from hwnas.supernet.calibrate import accuracy

    torch.set_num_threads(1)
    report = {}
    for task in TASKS:
        base, data, quality = task_setup(task, args.out, args.mnist1d_epochs)
        space8, ptq8, _ = ptq_parts(base, quality, ["int8"], per="network")
        fspace, front = fp32_front(base, quality, args.budget)
        x, y = data.split("test")
        rows = []
        for t in front:
            arch = fspace.base_arch(t.arch)
            module = quality.extract(arch)
            fp32 = to_onnx_bytes(module, (1, *base.input_shape))
            int8 = ptq8.deployable(space8.with_policy(arch, "int8"), module)
            path = args.out / task / f"int8_{len(rows):02d}.onnx"
            path.write_bytes(int8)
            params = sum(lay.params for lay in base.layers(arch))
            rows.append({"arch": base.format(arch), "params": params, "torch_fp32": accuracy(module, x, y),
                         "ort_fp32": onnx_accuracy(fp32, x, y), "ort_int8": onnx_accuracy(path, x, y),
                         "fp32_kb": len(fp32) / 1024, "int8_kb": len(int8) / 1024})
            r = rows[-1]
            r["loss"] = r["ort_fp32"] - r["ort_int8"]
            r["ratio"] = r["fp32_kb"] / r["int8_kb"]
            shape = (1, *base.input_shape)
            r["fp32_ms"] = measure_latency(fp32, shape, repeats=100).latency_ms
            r["int8_ms"] = measure_latency(int8, shape, repeats=100).latency_ms
            r["exported_ms"] = min(r["fp32_ms"], r["int8_ms"])
            print(f"{task} {params:>7d} params  fp32 {r['ort_fp32']:.2f}%  int8 {r['ort_int8']:.2f}%  "
                  f"loss {r['loss']:+.2f}  {r['fp32_kb']:.1f} -> {r['int8_kb']:.1f} kB ({r['ratio']:.2f}x)  "
                  f"{r['fp32_ms']:.4f} -> {r['int8_ms']:.4f} ms ({r['fp32_ms'] / r['int8_ms']:.2f}x)")
        best = max(rows, key=lambda r: r["ort_fp32"])
        large = [r for r in rows if r["params"] >= 30_000]
        report[task] = {"rows": rows, "best_loss": best["loss"], "best_params": best["params"],
                        "min_ratio_30k": min((r["ratio"] for r in large), default=None), "n_30k": len(large),
                        "bar_accuracy": best["loss"] <= 0.5,
                        "bar_size": all(r["ratio"] >= 3.0 for r in large)}
        print(f"{task}: best member ({best['params']} params) loses {best['loss']:+.2f} points; "
              f"{len(large)} members >= 30k params, smallest size ratio {report[task]['min_ratio_30k']}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
