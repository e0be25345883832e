"""Does searching the int8 / fp32 policy with the architecture pay? Joint front vs the union of two separate ones.

Per task (digits: mobilenet; MNIST-1D: signal1d), one supernet trained once (``bench_quantize.task_setup``,
cached under ``--out``) and, per seed, four searches of ``--budget`` evaluations each, all on the same
objectives (validation accuracy of the model as deployed, in ONNX Runtime; latency of that model measured
with the project's timer; size from its bit widths), with the same strategy (``--strategy``, its options
``--options``). ``--studies three``: one study per method on all three objectives, scored in each plane;
``--studies plane``: per plane, one study per method on accuracy and that plane's cost (a user who deploys
under a latency budget searches accuracy vs latency):

- ``joint``: architecture + one precision per block (int8 or fp32), each sub-network post-training quantized
  by its policy;
- ``fp32``: architecture only, every block fp32;
- ``int8``: architecture only, every block int8;
- ``random``: the joint space searched by random sampling (the baseline).

Hypervolume of each search's evaluated points in accuracy vs latency and accuracy vs size (each axis scaled
by its range over every point of the task, reference at the worst value), median over seeds. Bar: the joint
front's HV >= the HV of the union of the ``fp32`` and ``int8`` fronts, in both planes, on both tasks, at
the same evaluation budget: ``union`` joins the first ``budget / 2`` evaluations of each separate search
(a study's first k evaluations are what a budget of k would have made); ``union_2x`` joins both whole
searches (twice the joint search's evaluations), reported beside it. Evaluations are memoised across seeds and searches by
(architecture, policy): the metrics of a model do not depend on which search asked.

    .venv/bin/python benchmarks/bench_joint_policy.py --out runs/bench_quantize --json benchmarks/results/joint_policy.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_quantize import TASKS, ptq_parts, task_setup  # noqa: E402

PLANES = {"latency": "latency_ms", "size": "size_kb"}
METHODS = ("joint", "fp32", "int8", "random")


class Memo:
    """An evaluator's results kept by (base architecture, policy), shared by the spaces of one task."""

    def __init__(self):
        self.results: dict[tuple[str, str], dict] = {}

    def wrap(self, space, evaluator):
        from hwnas.compress.policy import policy_text
        from hwnas.core.errors import EvaluationFailed
        from hwnas.evaluators.base import Evaluator

        memo = self.results

        class Memoised(Evaluator):
            metrics = evaluator.metrics

            def metric_kinds(self):
                return evaluator.metric_kinds()

            def bind(self, s):
                evaluator.bind(s)

            def evaluate(self, arch):
                base = space.base.key(space.base_arch(arch))
                policy = space.policy(arch)
                uniform = set(policy.values())  # a uniform policy is one model whatever the blocks are called
                key = (base, uniform.pop() if len(uniform) == 1 else policy_text(policy))
                if key not in memo:
                    try:
                        memo[key] = evaluator.evaluate(arch)
                    except EvaluationFailed as e:
                        memo[key] = {"error": str(e)}
                if "error" in memo[key]:
                    raise EvaluationFailed(memo[key]["error"])
                return dict(memo[key])

            def describe(self):
                return evaluator.describe()

        return Memoised()


def hv(points: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> float:
    """2-D hypervolume of (accuracy, cost) points, both scaled to [0, 1] by the task's ranges, reference at the worst."""
    from hwnas.core.pareto import hypervolume

    if len(points) == 0:
        return 0.0
    f = np.column_stack([(hi[0] - points[:, 0]) / (hi[0] - lo[0]), (points[:, 1] - lo[1]) / (hi[1] - lo[1])])
    return float(hypervolume(f, np.array([1.0, 1.0])))


def median_reference(draws: list[np.ndarray]) -> np.ndarray:
    """(accuracy, cost) at the median of the distinct random draws (each row once, every seed pooled)."""
    pooled = np.unique(np.concatenate([x for x in draws if len(x)]), axis=0)
    return np.median(pooled, axis=0)


def hv_from(points: np.ndarray, ref: np.ndarray, best: np.ndarray) -> float:
    """Hypervolume of (accuracy, cost) points up to ``ref`` (accuracy max, cost min) as a fraction of the box
    from ``best`` (the best accuracy and the lowest cost seen) to ``ref``; points outside it count nothing."""
    from hwnas.core.pareto import hypervolume

    if len(points) == 0:
        return 0.0
    box = (best[0] - ref[0]) * (ref[1] - best[1])
    f = np.column_stack([-points[:, 0], points[:, 1]])
    return float(hypervolume(f, np.array([-ref[0], ref[1]])) / box)


def front_of(points: np.ndarray) -> np.ndarray:
    """The non-dominated (accuracy max, cost min) rows: all a hypervolume reads."""
    from hwnas.core.pareto import nondominated_mask

    if not len(points):
        return points
    return points[nondominated_mask(np.column_stack([-points[:, 0], points[:, 1]]))]


def search_points(task: str, methods, spaces: dict, evaluators: dict, objectives, strategy: str, seeds: int,
                  budget: int, memo: Memo, archs: dict | None = None,
                  options: dict | None = None) -> dict[str, list[np.ndarray]]:
    """Per method and seed, the objectives of every evaluation that succeeded (rows in trial order): ``strategy``
    on each method's space and evaluator, random search for ``random``. ``archs``, when given, receives per
    method and seed the architectures of every trial (failed ones too), in trial order. ``options``: the
    strategy's options (not random search's)."""
    from hwnas.strategies import get_strategy
    from hwnas.study import Study

    points: dict[str, list[np.ndarray]] = {m: [] for m in methods}
    columns = [o.metric for o in objectives]
    t0 = time.perf_counter()
    for seed in range(seeds):
        for m in methods:
            study = Study(spaces[m], evaluators[m], objectives,
                          get_strategy("random") if m == "random" else get_strategy(strategy, **(options or {})), seed=seed)
            study.optimize(budget)
            trials = sorted(study.trials, key=lambda t: t.number)
            points[m].append(np.array([[t.metrics[c] for c in columns] for t in trials if t.ok]))
            if archs is not None:
                archs.setdefault(m, []).append([t.arch for t in trials])
        print(f"{task} seed {seed}: {len(memo.results)} distinct models evaluated, "
              f"{time.perf_counter() - t0:.0f}s", flush=True)
    return points


def ratio_interval(joint: list[float], union: list[float], draws: int = 5000) -> list[float]:
    """5th and 95th percentiles of median(joint) / median(union) with the seeds of each resampled (a seeded
    bootstrap): how far the bar's ratio of two medians over a few seeds moves with the seeds drawn."""
    rng = np.random.default_rng(0)
    j, u = np.asarray(joint, dtype=float), np.asarray(union, dtype=float)
    ratios = (np.median(j[rng.integers(0, len(j), (draws, len(j)))], axis=1)
              / np.median(u[rng.integers(0, len(u), (draws, len(u)))], axis=1))
    return np.percentile(ratios, [5, 95]).tolist()


def score_plane(points: dict[str, list[np.ndarray]], budget: int) -> dict:
    """Per-seed and median HV of each method's (accuracy, cost) points, of ``union`` (the first ``budget / 2``
    evaluations of the fp32 and the int8 search joined) and ``union_2x`` (both whole), scored two ways:
    ``range`` (every axis scaled by its range over all the points, reference at the worst) and ``median``
    (reference at the median of the random search's distinct draws, seeds pooled, as a fraction of the box
    from the best accuracy and lowest cost of all the points: the project's convention)."""
    every = np.concatenate([x for xs in points.values() for x in xs if len(x)])
    lo, hi = every.min(axis=0), every.max(axis=0)
    ref, best = median_reference(points["random"]), np.array([hi[0], lo[1]])
    half = budget // 2
    out = {}
    for name, score in (("range", lambda x: hv(x, lo, hi)), ("median", lambda x: hv_from(x, ref, best))):
        per = {m: [score(x) for x in xs] for m, xs in points.items()}
        per["union"] = [score(np.concatenate([a[:half], b[:half]])) for a, b in zip(points["fp32"], points["int8"])]
        per["union_2x"] = [score(np.concatenate([a, b])) for a, b in zip(points["fp32"], points["int8"])]
        med = {m: statistics.median(v) for m, v in per.items()}
        out[name] = {"per_seed": per, "median": med, "joint_over_union": med["joint"] / med["union"],
                     "joint_over_union_2x": med["joint"] / med["union_2x"], "bar": med["joint"] >= med["union"],
                     "interval_90": ratio_interval(per["joint"], per["union"])}
    out["median"]["reference"] = ref.tolist()
    return out


def report_plane(task: str, plane: str, scored: dict) -> None:
    for name, s in scored.items():
        med = s["median"]
        print(f"{task} accuracy vs {plane} ({name} reference): median HV "
              + ", ".join(f"{m} {v:.4f}" for m, v in med.items())
              + f"; joint / union {s['joint_over_union']:.3f} (90 % bootstrap interval "
              + "{:.3f}-{:.3f})".format(*s["interval_90"]) + f", joint / union_2x {s['joint_over_union_2x']:.3f}",
              flush=True)


def rescore(path: Path) -> dict:
    """A report this script wrote, scored again from its stored points (older reports kept them per task)."""
    report = json.loads(path.read_text())
    for task, r in report.items():
        for c, plane in enumerate(PLANES, start=1):
            stored = r["planes"][plane].get("points")
            if stored is None:  # one three-objective study per method: columns accuracy, latency, size
                stored = {m: [np.asarray(x)[:, [0, c]] if len(x) else np.zeros((0, 2)) for x in xs]
                          for m, xs in r["points"].items()}
            points = {m: [np.asarray(x, dtype=float).reshape(-1, 2) for x in stored[m]] for m in METHODS}
            scored = score_plane(points, r["budget"])
            report_plane(task, plane, scored)
            r["planes"][plane] = {**scored, "points": {m: [x.tolist() for x in points[m]] for m in METHODS}}
        r.pop("points", None)
    return report


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("runs/bench_quantize"))
    p.add_argument("--budget", type=int, default=20)
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--strategy", default="nsga2")
    p.add_argument("--options", type=json.loads, default={}, help="the strategy's options, as JSON")
    p.add_argument("--tasks", nargs="+", default=list(TASKS))
    p.add_argument("--studies", choices=("three", "plane"), default="three",
                   help="three: one study per method on accuracy, latency and size, scored in each plane; "
                        "plane: one study per method and plane, on that plane's two objectives")
    p.add_argument("--mnist1d-epochs", type=int, default=200)
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--rescore", type=Path, default=None, help="score a report this script wrote again, from its "
                   "stored points (written back to --json), and run nothing")
    args = p.parse_args()
    if args.rescore is not None:
        report = rescore(args.rescore)
        if args.json:
            args.json.write_text(json.dumps(report, indent=1))
        return
    os.environ.setdefault("HWNAS_CACHE", tempfile.mkdtemp(prefix="hwnas-cache-"))
    import torch

    from hwnas.core.objectives import Objective

    torch.set_num_threads(1)
    accuracy = Objective.parse("accuracy:max")
    cost = {plane: Objective.parse(f"{metric}:min") for plane, metric in PLANES.items()}
    report = {}
    for task in args.tasks:
        base, _, quality = task_setup(task, args.out, args.mnist1d_epochs)
        memo = Memo()
        parts = {"joint": ptq_parts(base, quality, ["int8", "fp32"], "block", max_drop=2.0),
                 "fp32": ptq_parts(base, quality, ["fp32"], "network", max_drop=2.0),
                 "int8": ptq_parts(base, quality, ["int8"], "network", max_drop=2.0)}
        parts["random"] = parts["joint"]
        evaluators = {m: memo.wrap(s, ev) for m, (s, _, ev) in parts.items()}
        spaces = {m: parts[m][0] for m in METHODS}

        if args.studies == "three":  # one study per method on all three objectives, scored in each plane
            three = search_points(task, METHODS, spaces, evaluators, [accuracy, *cost.values()], args.strategy,
                                  args.seeds, args.budget, memo, options=args.options)
            scored = {plane: [[x[:, [0, c]] if len(x) else x for x in three[m]] for m in METHODS]
                      for c, plane in enumerate(PLANES, start=1)}
        else:  # one study per method and plane, on that plane's two objectives
            scored = {}
            for plane in PLANES:
                pts = search_points(task, METHODS, spaces, evaluators, [accuracy, cost[plane]], args.strategy,
                                    args.seeds, args.budget, memo, options=args.options)
                scored[plane] = [pts[m] for m in METHODS]
        out = {}
        for plane, per_method in scored.items():
            points = dict(zip(METHODS, per_method))
            out[plane] = score_plane(points, args.budget)
            report_plane(task, plane, out[plane])
            out[plane]["points"] = {m: [x.tolist() for x in points[m]] for m in METHODS}
        report[task] = {"planes": out, "budget": args.budget, "seeds": args.seeds, "strategy": args.strategy,
                        "options": args.options, "studies": args.studies, "distinct_models": len(memo.results),
                        "share_with_int8": float(np.mean([("int8" in k[1]) for k in memo.results])),
                        "failed": sum("error" in v for v in memo.results.values())}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
