"""Accelerator target: does searching a 4/8/16-bit policy per block with the architecture pay in accuracy vs energy?

Per task (digits: mobilenet; MNIST-1D: signal1d), one supernet trained once (``bench_quantize.task_setup``,
cached under ``--out``) and, per seed, three searches of ``--budget`` evaluations each on the objectives
validation accuracy (max) and energy (min) on an accelerator preset (``--preset``; the accelerator model
costs each layer at its precision: per-precision MAC energy, traffic scaling with bit width):

- ``joint``: architecture + one precision per block among ``--precisions`` (default int4 / w4a8 / int8 /
  int16: 4-bit weights and activations, 4-bit weights with 8-bit activations, 8 and 16 bits), with
  ``--strategy``; ``--precisions int4 int8 int16`` is the three-choice space without the mixed precision;
- ``int8``: architecture only, every block int8, with ``--strategy`` (the uniform-8-bit front);
- ``random``: the joint space searched by random sampling (the baseline, same run).

``--per network`` makes ``joint`` architecture + one precision for the whole network (4 choices) instead of
one per block: not the per-block policy of the bar, a measure of how much of the gap is the search difficulty
of the per-block space. ``random`` and the median reference stay on the per-block space, so the reference of
a ``--per network`` run is that of the per-block run with the same budget and seeds.

Accuracy is the fake-quantized PyTorch accuracy (``hwnas.evaluators.fakequant``: inherited weights, BN
recalibrated, BN folded, LSQ quantizers calibrated on 256 training samples, ``--epochs`` of QAT fine-tuning,
default none), since ONNX Runtime
has no CPU kernel for 4- or 16-bit layers. Hypervolume of each search's evaluated points, median over seeds,
with two reference points:

- ``range``: both axes scaled by their range over every point of the task, reference at the worst;
- ``median``: the project's scoring convention (``shared/benchdata/README.md``): reference at the median
  architecture in each objective, here the median accuracy and median energy of the random baseline's
  draws of the joint space (every seed, each distinct model once); points outside it count nothing.

Each is also given as a fraction of its box (from the run's best accuracy and lowest energy to the reference):
the ceiling of the joint / int8 ratio is 1 / the int8 front's fraction. Bar: the joint front's HV >= 1.2x the
uniform-int8 front's. Evaluations are memoised by (architecture, policy).
With w4a8 among ``--precisions`` the run also scores ``int8+w4a8``: each int8 search's evaluated
architectures plus the same architectures at uniform w4a8 (twice the evaluations, not a search): what the
mixed precision adds to the architectures the int8 search found, the reach of a joint search that found them.
``--probe N`` prints instead where the policy pays: accuracy and energy of the largest and N random
architectures at each uniform precision and with one block changed (int8 with one block at int4 or w4a8,
int4 or w4a8 with one block at int8).

    .venv/bin/python benchmarks/bench_accel_policy.py --out runs/bench_quantize --tasks digits --budget 40 --seeds 5 --json benchmarks/results/accel_policy_digits.json
    .venv/bin/python benchmarks/bench_accel_policy.py --out runs/bench_quantize --tasks mnist1d --probe 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_joint_policy import Memo, front_of, hv, hv_from, median_reference, search_points  # noqa: E402
from bench_quantize import TASKS, task_setup  # noqa: E402

METHODS = ("joint", "int8", "random")


def accel_parts(base, quality, precisions, per: str, preset: str, epochs: int = 0):
    """The quantized space of ``base`` for the accelerator and its evaluator: fake-quantized accuracy + energy."""
    from hwnas.costs.accelerator import AcceleratorModel
    from hwnas.evaluators.base import CombinedEvaluator
    from hwnas.evaluators.cost import CostEvaluator
    from hwnas.evaluators.fakequant import FakeQuantEvaluator
    from hwnas.spaces.quantized import QuantizedSpace

    space = QuantizedSpace(base, precisions, per=per, target="accelerator")
    fq = FakeQuantEvaluator(quality, space, calib_samples=256, epochs=epochs)
    return space, CombinedEvaluator([fq, CostEvaluator(AcceleratorModel(preset=preset))])


def method_parts(base, quality, precisions, per: str, preset: str, epochs: int = 0) -> dict:
    """Method -> (space, evaluator): ``joint`` with a policy ``per`` block or network, ``int8`` uniform int8,
    ``random`` the per-block joint space (the baseline and the median reference, whatever ``per`` is)."""
    block = accel_parts(base, quality, precisions, "block", preset, epochs)
    return {"joint": block if per == "block" else accel_parts(base, quality, precisions, per, preset, epochs),
            "int8": accel_parts(base, quality, ["int8"], "network", preset, epochs),
            "random": block}


#: (every block, the one block changed) of the probe's one-block policies, where both are searched
ONE_BLOCK = (("int8", "int4"), ("int8", "w4a8"), ("int4", "int8"), ("w4a8", "int8"))


def recast(archs: list[list], space, int8_space, evaluator, precision: str, columns) -> list[np.ndarray]:
    """Per study, the objectives of its architectures at uniform ``precision`` in ``space`` (failures left out)."""
    from hwnas.core.errors import EvaluationFailed

    evaluator.bind(space)
    out = []
    for study in archs:
        rows = []
        for arch in study:
            try:
                r = evaluator.evaluate(space.with_policy(int8_space.base_arch(arch), precision))
            except EvaluationFailed:
                continue
            rows.append([r[c] for c in columns])
        out.append(np.array(rows))
    return out


def probe(base, space, evaluator, n: int, seed: int = 0) -> None:
    """Print accuracy and energy of the largest architecture and ``n`` random ones under each uniform precision
    and under the :data:`ONE_BLOCK` policies (e.g. int8 with one block at w4a8): where the policy pays."""
    evaluator.bind(space)
    archs = [base.largest()] + [base.from_genes(g) for g in base.sample_genes(np.random.default_rng(seed), n)]
    pairs = [(hi, lo) for hi, lo in ONE_BLOCK if hi in space.precisions and lo in space.precisions]
    for arch in archs:
        blocks = list(space.running_blocks(base.canonical(arch)))
        policies = list(space.precisions) + [{**dict.fromkeys(blocks, hi), b: lo} for hi, lo in pairs
                                             for b in blocks]
        for policy in policies:
            r = evaluator.evaluate(space.with_policy(arch, policy))
            name = policy if isinstance(policy, str) else " ".join(f"{b}:{v}" for b, v in policy.items())
            print(f"{name:72s} accuracy {r['accuracy']:5.1f} (fp32 {r['float_accuracy']:5.1f}) "
                  f"energy {r['energy_mj'] * 1e3:.3f} uJ", flush=True)
        print(flush=True)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("runs/bench_quantize"))
    p.add_argument("--budget", type=int, default=40)
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--strategy", default="nsga2")
    p.add_argument("--preset", default="edge_npu")
    p.add_argument("--precisions", nargs="+", default=["int4", "w4a8", "int8", "int16"],
                   help="the joint space's precisions per block (accelerator target)")
    p.add_argument("--per", choices=("block", "network"), default="block",
                   help="the joint search's policy: one precision per block (the bar) or one for the network")
    p.add_argument("--tasks", nargs="+", default=list(TASKS))
    p.add_argument("--mnist1d-epochs", type=int, default=200)
    p.add_argument("--epochs", type=int, default=0, help="QAT fine-tuning epochs per evaluated model")
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--probe", type=int, default=None, metavar="N",
                   help="instead of the searches, print the policies of the largest and N random architectures")
    return p


def main() -> None:
    args = parser().parse_args()
    import torch

    from hwnas.core.objectives import Objective

    torch.set_num_threads(1)
    objectives = [Objective.parse(t) for t in ("accuracy:max", "energy_mj:min")]
    report = {}
    for task in args.tasks:
        base, _, quality = task_setup(task, args.out, args.mnist1d_epochs)
        memo = Memo()
        parts = method_parts(base, quality, args.precisions, args.per, args.preset, args.epochs)
        if args.probe is not None:
            probe(base, *parts["random"], args.probe)
            continue
        evaluators = {m: memo.wrap(s, ev) for m, (s, ev) in parts.items()}
        archs: dict = {}
        cpu = time.process_time()
        points = search_points(task, METHODS, {m: parts[m][0] for m in METHODS}, evaluators, objectives,
                               args.strategy, args.seeds, args.budget, memo, archs)
        print(f"{task}: searches took {time.process_time() - cpu:.0f} CPU s", flush=True)
        extra = {}
        if "w4a8" in args.precisions:
            at_w4a8 = recast(archs["int8"], parts["random"][0], parts["int8"][0], evaluators["random"], "w4a8",
                             [o.metric for o in objectives])
            extra["int8+w4a8"] = [np.concatenate([x for x in (a, b) if len(x)])
                                  for a, b in zip(points["int8"], at_w4a8)]
        points_all = {**points, **extra}
        every = np.concatenate([x for m in points_all for x in points_all[m] if len(x)])
        lo, hi = every.min(0), every.max(0)
        per = {m: [hv(x, lo, hi) for x in points_all[m]] for m in points_all}
        med = {m: statistics.median(v) for m, v in per.items()}
        ratio = med["joint"] / med["int8"] if med["int8"] > 0 else float("inf")
        print(f"{task} accuracy vs energy ({args.preset}), reference at the range's worst: median HV "
              + ", ".join(f"{m} {v:.4f}" for m, v in med.items()) + f"; joint / int8 {ratio:.3f} "
              f"(bar >= 1.2: {'met' if ratio >= 1.2 else 'NOT met'}; ceiling {1 / med['int8']:.3f})", flush=True)
        ref = median_reference(points["random"])
        best = np.array([hi[0], lo[1]])
        per_m = {m: [hv_from(x, ref, best) for x in points_all[m]] for m in points_all}
        med_m = {m: statistics.median(v) for m, v in per_m.items()}
        ratio_m = med_m["joint"] / med_m["int8"] if med_m["int8"] > 0 else float("inf")
        print(f"{task} reference at the median random draw (accuracy {ref[0]:.1f} %, energy {ref[1]:.3e} mJ): "
              "median HV (fraction of the box) " + ", ".join(f"{m} {v:.4f}" for m, v in med_m.items())
              + f"; joint / int8 {ratio_m:.3f} (bar >= 1.2: {'met' if ratio_m >= 1.2 else 'NOT met'}; "
              f"ceiling {1 / med_m['int8']:.3f})", flush=True)
        fronts = {m: [front_of(x).tolist() for x in points[m]] for m in METHODS}
        for m in METHODS:
            f = sorted(fronts[m][0], key=lambda r: r[1])
            print(f"{task} seed 0 {m} front (accuracy %, energy mJ): "
                  + ", ".join(f"({a:.1f}, {e:.2e})" for a, e in f), flush=True)
        report[task] = {"per_seed": per, "median": med, "joint_over_int8": ratio, "bar": ratio >= 1.2,
                        "ceiling": 1 / med["int8"],
                        "median_reference": {"reference": ref.tolist(), "per_seed": per_m, "median": med_m,
                                             "joint_over_int8": ratio_m, "bar": ratio_m >= 1.2,
                                             "ceiling": 1 / med_m["int8"] if med_m["int8"] > 0 else None},
                        "fronts": fronts, "points": {m: [x.tolist() for x in points_all[m]] for m in points_all},
                        "range": {"low": lo.tolist(), "high": hi.tolist()},
                        "budget": args.budget, "seeds": args.seeds, "strategy": args.strategy,
                        "preset": args.preset, "precisions": args.precisions, "epochs": args.epochs, "per": args.per,
                        "distinct_models": len(memo.results)}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
