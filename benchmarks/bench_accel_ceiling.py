"""How far can the accelerator bar go? The joint space's front against the uniform-int8 front, both searched long.

The accelerator bar (joint front HV >= 1.2x the uniform-8-bit front's, ``bench_accel_policy.py``) compares two
searches of the same budget. Its ceiling is the ratio of the two spaces' own fronts: what a joint search that
found every Pareto-optimal (architecture, policy) would score against an int8 search that found every
Pareto-optimal architecture. Neither space can be enumerated (digits: ~10^5 architectures x 4^blocks policies),
so this script estimates both fronts from long searches: per task, ``--seeds`` searches of ``--budget``
evaluations with each of ``--strategies`` on the joint space (per-block int4 / w4a8 / int8 / int16) and on the
uniform-int8 space, with the objectives and evaluator of ``bench_accel_policy.py`` (fake-quantized validation
accuracy with ``--epochs`` of QAT, energy on ``--preset``). Every model evaluated is pooled per space (an int8
model is also a joint-space model) and both pooled fronts are scored as the bar is: reference at the median of
random draws of the joint space (``--random-seeds`` x ``--random-budget``, the draws of the bar's budget-200
runs), HV as a fraction of the box from the best accuracy and lowest energy seen. The pooled joint front is a
lower bound of the true one, the pooled int8 front near its true one (the int8 space is 4^blocks times
smaller), so the ratio errs towards the joint space.

The JSON keeps the random draws and each search's front. ``--stored FILE`` (a ``bench_accel_policy.py`` budget
report) prints the same ratio from the models its runs evaluated, each run's reference in turn, without
searching (its supernet may differ from the one cached here); ``--join A.json B.json`` pools the fronts of
reports of this script that share their random draws.

    .venv/bin/python benchmarks/bench_accel_ceiling.py --out runs/bench_quantize --tasks digits mnist1d --json benchmarks/results/accel_ceiling.json
    .venv/bin/python benchmarks/bench_accel_ceiling.py --stored benchmarks/results/accel_policy_budget.json --tasks digits mnist1d
    .venv/bin/python benchmarks/bench_accel_ceiling.py --tasks mnist1d --join benchmarks/results/accel_ceiling.json benchmarks/results/accel_ceiling_mnist1d_linas3000.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_accel_policy import method_parts  # noqa: E402
from bench_joint_policy import Memo, front_of, hv_from, median_reference  # noqa: E402
from bench_quantize import TASKS, task_setup  # noqa: E402


def pooled(runs: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """(joint-space points, int8 points), distinct rows, of every method's models in ``runs`` (each a
    ``points`` dict: method -> per-study rows): every model is a joint-space model, the int8 searches' are both."""
    joint, int8 = [], []
    for points in runs:
        for m, studies in points.items():
            for x in studies:
                if len(x):
                    (int8 if m == "int8" else joint).append(np.asarray(x, dtype=float).reshape(-1, 2))
    int8_all = np.unique(np.concatenate(int8), axis=0) if int8 else np.zeros((0, 2))
    joint_all = np.unique(np.concatenate([*joint, int8_all]), axis=0)
    return joint_all, int8_all


def ratio(joint: np.ndarray, int8: np.ndarray, ref: np.ndarray, best: np.ndarray) -> dict:
    j, i = hv_from(joint, ref, best), hv_from(int8, ref, best)
    return {"joint": j, "int8": i, "ratio": j / i if i > 0 else float("inf")}


def joined(reports: list[dict]) -> dict:
    """The ratio of the fronts of several reports of one task pooled (their random draws must be the same)."""
    ref = np.asarray(reports[0]["reference"])
    if any(not np.allclose(r["reference"], ref) for r in reports):
        raise SystemExit("--join: the reports' references differ (other random draws, supernet or QAT epochs)")
    runs = [{"random": [np.asarray(x, dtype=float) for x in reports[0]["random"]]}]
    runs += [{key.split("/")[0]: [np.asarray(x, dtype=float) for x in xs]} for r in reports
             for key, xs in r["fronts"].items()]
    joint, int8 = pooled(runs)
    return ratio(joint, int8, ref, np.array([joint[:, 0].max(), joint[:, 1].min()]))


def stored_ceilings(report: dict, task: str) -> dict[str, dict]:
    """Per stored run of ``task`` (per-block policy), the pooled ratio of every run with the same QAT epochs
    under that run's reference and box."""
    out = {}
    runs = {k: r for k, r in report.items() if k.startswith(task + "/") and r.get("per", "block") == "block"}
    for key, run in runs.items():
        same = [r["points"] for r in runs.values() if r.get("epochs", 0) == run.get("epochs", 0)]
        joint, int8 = pooled(same)
        every = np.concatenate([np.asarray(x, dtype=float) for xs in run["points"].values() for x in xs if len(x)])
        ref = np.asarray(run["median_reference"]["reference"])
        out[key] = {**ratio(joint, int8, ref, np.array([every[:, 0].max(), every[:, 1].min()])),
                    "bar_run": run["median_reference"]["joint_over_int8"]}
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("runs/bench_quantize"))
    p.add_argument("--tasks", nargs="+", default=list(TASKS))
    p.add_argument("--stored", type=Path, default=None, help="a budget report: print its pooled ratios, search nothing")
    p.add_argument("--join", type=Path, nargs="+", default=None,
                   help="reports of this script with the same random draws: their fronts pooled, search nothing")
    p.add_argument("--strategies", nargs="+", default=["nsga2", "linas"])
    p.add_argument("--budget", type=int, default=1000)
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--random-budget", type=int, default=200)
    p.add_argument("--random-seeds", type=int, default=5)
    p.add_argument("--preset", default="edge_npu")
    p.add_argument("--epochs", type=int, default=0, help="QAT fine-tuning epochs per evaluated model")
    p.add_argument("--mnist1d-epochs", type=int, default=200)
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()
    if args.stored is not None:
        report = json.loads(args.stored.read_text())
        out = {task: stored_ceilings(report, task) for task in args.tasks}
        for rows in out.values():
            for key, r in rows.items():
                print(f"{key}: pooled joint {r['joint']:.3f} / int8 {r['int8']:.3f} = {r['ratio']:.3f} "
                      f"(the run's joint / int8 {r['bar_run']:.3f})")
        if args.json:
            args.json.write_text(json.dumps(out, indent=1))
        return
    if args.join is not None:
        for task in args.tasks:
            print(f"{task}: {joined([json.loads(f.read_text())[task] for f in args.join])}")
        return
    import torch

    from hwnas.core.objectives import Objective
    from hwnas.strategies import get_strategy
    from hwnas.study import Study

    torch.set_num_threads(1)
    objectives = [Objective.parse(t) for t in ("accuracy:max", "energy_mj:min")]
    report = {}
    for task in args.tasks:
        base, _, quality = task_setup(task, args.out, args.mnist1d_epochs)
        parts = method_parts(base, quality, ["int4", "w4a8", "int8", "int16"], "block", args.preset, args.epochs)
        memo = Memo()
        t0 = time.perf_counter()

        def run(method: str, strategy: str, seed: int, budget: int, parts=parts, memo=memo) -> np.ndarray:
            space, evaluator = parts[method]
            study = Study(space, memo.wrap(space, evaluator), objectives, get_strategy(strategy), seed=seed)
            study.optimize(budget)
            return np.array([[t.metrics[o.metric] for o in objectives] for t in study.trials if t.ok])

        draws = [run("random", "random", seed, args.random_budget) for seed in range(args.random_seeds)]
        ref = median_reference(draws)
        found: dict[str, dict[str, list[np.ndarray]]] = {}
        for strategy in args.strategies:
            for method in ("joint", "int8"):
                for seed in range(args.seeds):
                    found.setdefault(strategy, {}).setdefault(method, []).append(run(method, strategy, seed, args.budget))
                    print(f"{task} {method} {strategy} seed {seed} ({time.perf_counter() - t0:.0f}s)", flush=True)
        joint, int8 = pooled([{"random": draws}, *found.values()])
        best = np.array([joint[:, 0].max(), joint[:, 1].min()])
        each = {s: {m: [hv_from(x, ref, best) for x in xs] for m, xs in f.items()} for s, f in found.items()}
        scores = ratio(joint, int8, ref, best)
        for s, f in each.items():
            print(f"{task} {s} at {args.budget}: per-seed HV joint {np.round(f['joint'], 3).tolist()}, "
                  f"int8 {np.round(f['int8'], 3).tolist()}", flush=True)
        print(f"{task} ({args.epochs} QAT epochs), reference {ref[0]:.1f} % / {ref[1]:.3e} mJ: pooled joint "
              f"{scores['joint']:.3f} / int8 {scores['int8']:.3f} = {scores['ratio']:.3f} ({len(joint)} joint-space "
              f"and {len(int8)} int8 models)", flush=True)
        report[task] = {"epochs": args.epochs, "reference": ref.tolist(), "best": best.tolist(), "scores": scores,
                        "searches": each, "budget": args.budget, "seeds": args.seeds,
                        "strategies": args.strategies, "models": {"joint": len(joint), "int8": len(int8)},
                        "random": [x.tolist() for x in draws],
                        "fronts": {f"{m}/{s}": [front_of(x).tolist() for x in xs] for s, f in found.items()
                                   for m, xs in f.items()}}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
