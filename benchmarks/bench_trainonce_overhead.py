"""Strategy overhead and front quality in the train-once pipeline, with the configs' real evaluators.

For each config (default ``examples/digits.yaml``: the ``mobilenet`` space on digits, and
``examples/mnist1d.yaml``: the ``signal1d`` space on MNIST-1D, few-shot by conv depth as configured),
the supernet is trained once (``hwnas.app.train.train_supernet``; the checkpoint is cached under
``--work``, so a rerun skips training), then each strategy of ``--strategies`` runs the ordinary
study loop on ``--seeds`` seeds for ``--budget`` distinct evaluations with the config's evaluator:
accuracy inherited from the supernet (BN recalibrated per sub-network, validation split), latency
measured in ONNX Runtime (cached in ``WORK/latency.json``, shared by every run, so an architecture
has one latency in all of them), MACs and parameters counted. The objectives are the config's.

Reported per space: the process CPU seconds inside the strategy (setup + ask + tell, which hold the
surrogate refits; evaluation excluded) per 100 evaluations, median and range over seeds, with
random search's bookkeeping from the same run; the CPU and wall seconds of one evaluation (and of
each evaluator part); and the hypervolume of each run's front (accuracy vs latency), as a fraction
of the box between the best value of each objective over all runs of that space and the reference
point: each objective's median over random search's evaluations (a random sample of the space), and
also its worst value over all runs (a reference that every front fills nearly whole).

``--epochs`` shortens supernet training (the default trains digits 10 epochs and MNIST-1D 400 in
all, 100 per conv depth, against 30 and 1,200 in the configs): the evaluator's accuracies then come
from a shorter-trained supernet, which the page says. ``--profile OUT`` runs one search (first
config, first strategy, seed 0) under cProfile instead and prints where the strategy's time goes.

    OMP_NUM_THREADS=1 nice python benchmarks/bench_trainonce_overhead.py \
        --out benchmarks/results/trainonce_overhead.md
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ("examples/digits.yaml", "examples/mnist1d.yaml")
DEFAULT_EPOCHS = "digits=10,mnist1d=400"
#: the overhead bar of issue 23: CPU seconds inside the strategy per 100 evaluations
BAR_CPU_PER_100 = 2.0


def parse_epochs(text: str | None, stems: Sequence[str], strict: bool = True) -> dict[str, int | None]:
    """``N`` (every config) or ``STEM=N,...`` (by config file stem; others keep their config's epochs); a stem
    that is not among the configs is refused when ``strict`` (a typo), else skipped (the defaults)."""
    out: dict[str, int | None] = {s: None for s in stems}
    if not text:
        return out
    if "=" not in text:
        n = _positive(text, "--epochs")
        return {s: n for s in stems}
    for part in text.split(","):
        stem, _, value = part.partition("=")
        if stem.strip() not in out:
            if not strict:
                continue
            raise ValueError(f"--epochs {part!r}: no config named {stem.strip()!r}; configs: {list(stems)}")
        out[stem.strip()] = _positive(value, f"--epochs {stem.strip()}")
    return out


def _positive(text: str, what: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise ValueError(f"{what}: expected a positive integer, got {text!r}") from None
    if n < 1:
        raise ValueError(f"{what}: expected a positive integer, got {n}")
    return n


class EvalClock:
    """Wraps ``evaluate`` of an evaluator and of each of its parts, summing CPU and wall seconds per part."""

    def __init__(self, evaluator):
        self.parts = {"all": evaluator, **{e.metrics[0]: e for e in getattr(evaluator, "evaluators", [])}}
        self.originals = {name: e.evaluate for name, e in self.parts.items()}
        self.reset()
        for name, e in self.parts.items():
            e.evaluate = self._timed(name, self.originals[name])

    def reset(self) -> None:
        self.cpu = dict.fromkeys(self.parts, 0.0)
        self.wall = dict.fromkeys(self.parts, 0.0)
        self.calls = 0

    def _timed(self, name: str, method: Callable) -> Callable:
        def timed(arch):
            w, c = time.perf_counter(), time.process_time()
            try:
                return method(arch)
            finally:
                self.cpu[name] += time.process_time() - c
                self.wall[name] += time.perf_counter() - w
                self.calls += name == "all"
        return timed

    def restore(self) -> None:
        for name, e in self.parts.items():
            e.evaluate = self.originals[name]


class Pipeline:
    """One config's train-once job up to the search: data, space, trained supernet and the combined evaluator."""

    def __init__(self, config: str | Path, epochs: int | None, work: Path, log: Callable[[str], None] = print):
        import torch
        from rich.console import Console

        from hwnas.app.components import (
            build_data,
            build_quality,
            build_targets,
            build_trainable_space,
            combine,
        )
        from hwnas.app.config import load_config
        from hwnas.app.train import train_supernet

        cfg = load_config(config)
        if cfg.supernet is None:
            raise ValueError(f"{config}: not a train-once config (no 'supernet:' section)")
        self.stem = Path(config).stem
        self.config_epochs = cfg.supernet.training.epochs
        if epochs is not None:
            cfg.supernet.training = cfg.supernet.training.model_copy(update={"epochs": epochs})
        self.cfg, self.epochs = cfg, cfg.supernet.training.epochs
        torch.set_num_threads(cfg.threads or 1)
        work.mkdir(parents=True, exist_ok=True)
        for t in cfg.targets:  # one latency per architecture in every run (the train-once job caches too)
            if t.name == "measure":
                t.options["cache"] = str(work / "latency.json")
        self.data = build_data(cfg)
        self.space = build_trainable_space(cfg, self.data)
        targets = build_targets(cfg, self.space)
        checkpoint = work / f"{self.stem}-e{self.epochs}" / "supernet.safetensors"
        self.trained_before = checkpoint.exists()
        c0, w0 = time.process_time(), time.perf_counter()
        log(f"{self.stem}: supernet {self.epochs} epochs ({checkpoint}"
            + (", cached)" if self.trained_before else ", training)"))
        net, _ = train_supernet(cfg, self.space, self.data, checkpoint, Console(quiet=True), quiet=True,
                                out=checkpoint.parent)
        self.train_cpu_s, self.train_wall_s = time.process_time() - c0, time.perf_counter() - w0
        identity = hashlib.sha256(checkpoint.read_bytes()).hexdigest()[:16]
        quality = build_quality(cfg, self.space, targets, data=self.data, net=net, identity=identity)
        self.evaluator = combine(quality, targets)
        self.objectives = cfg.parsed_objectives()
        self.constraints = cfg.parsed_constraints()

    def search(self, strategy_name: str, seed: int, budget: int) -> dict:
        """One study of ``budget`` evaluations; the strategy's and the evaluator's seconds, and the evaluated metrics."""
        from hwnas.app.bench_table import instrument
        from hwnas.strategies import get_strategy
        from hwnas.study import Study

        strategy = get_strategy(strategy_name)
        clock = instrument(strategy)
        evals = EvalClock(self.evaluator)
        try:
            study = Study(self.space, self.evaluator, self.objectives, strategy, constraints=self.constraints,
                          batch_size=self.cfg.study.batch_size, seed=seed)
            study.optimize(budget)
        finally:
            evals.restore()
        ok = [t for t in study.trials if t.ok]
        n = len(study.trials)
        metrics = [o.metric for o in self.objectives]
        return {
            "seed": seed, "evaluated": n, "failed": n - len(ok),
            "overhead_cpu_s": clock["cpu"], "overhead_wall_s": clock["wall"],
            "eval_cpu_s": evals.cpu, "eval_wall_s": evals.wall,
            "points": [[t.metrics[m] for m in metrics] for t in ok],
            "archs": [t.key for t in ok],
        }


def references(runs: dict[str, list[dict]], objectives) -> dict[str, list[float]]:
    """The reference points and the best point, in the objectives' own directions: ``median``, each objective's
    median over random search's evaluations (a sample of the space; over every run's without random search),
    ``worst``, each objective's worst value over all runs, and ``best``, its best value over all runs."""
    signs = np.array([o.sign for o in objectives], dtype=float)
    every = np.concatenate([np.asarray(r["points"], dtype=float) * signs for rs in runs.values() for r in rs])
    sample = runs.get("random") or [r for rs in runs.values() for r in rs]
    median = np.median(np.concatenate([np.asarray(r["points"], dtype=float) * signs for r in sample]), axis=0)
    return {"median": list(median * signs), "worst": list(every.max(axis=0) * signs),
            "best": list(every.min(axis=0) * signs)}


def hypervolume_fraction(points: list, ref: list[float], best: list[float], objectives) -> float:
    """The hypervolume of ``points`` up to ``ref`` as a fraction of the box between ``best`` and ``ref``."""
    from hwnas.core.pareto import hypervolume

    signs = np.array([o.sign for o in objectives], dtype=float)
    r, b = np.asarray(ref) * signs, np.asarray(best) * signs
    box = float(np.prod(r - b))
    return hypervolume(np.asarray(points, dtype=float) * signs, r) / box if box > 0 else 0.0


def front_of(points: list, archs: list[str], objectives) -> list[dict]:
    """The non-dominated points of one run, with their architectures."""
    from hwnas.core.pareto import nondominated_mask

    signs = np.array([o.sign for o in objectives], dtype=float)
    mask = nondominated_mask(np.asarray(points, dtype=float) * signs)
    return [{"arch": a, **{o.metric: p[i] for i, o in enumerate(objectives)}}
            for a, p, keep in zip(archs, points, mask) if keep]


def bench_space(config: str | Path, epochs: int | None, strategies: Sequence[str], seeds: int, budget: int,
                work: Path, log: Callable[[str], None] = print) -> dict:
    """Train (or reuse) the config's supernet, run every strategy on every seed; the space's results."""
    pipe = Pipeline(config, epochs, work, log)
    runs: dict[str, list[dict]] = {}
    for name in strategies:
        for seed in range(seeds):
            c0, w0 = time.process_time(), time.perf_counter()
            r = pipe.search(name, seed, budget)
            r["run_cpu_s"], r["run_wall_s"] = time.process_time() - c0, time.perf_counter() - w0
            runs.setdefault(name, []).append(r)
            log(f"{pipe.stem} {name} seed {seed}: {r['evaluated']} evaluated, strategy "
                f"{r['overhead_cpu_s'] * 100 / max(r['evaluated'], 1):.2f} CPU s/100, evaluation "
                f"{r['eval_cpu_s']['all'] / max(r['evaluated'], 1):.3f} CPU s each, run {r['run_wall_s']:.0f}s wall")
    flat = [r for rs in runs.values() for r in rs]
    refs = references(runs, pipe.objectives)
    metrics = [o.metric for o in pipe.objectives]
    for r in flat:
        r["hypervolume"] = {k: hypervolume_fraction(r["points"], refs[k], refs["best"], pipe.objectives)
                            for k in ("median", "worst")}
        r["front"] = front_of(r["points"], r["archs"], pipe.objectives)
        # every evaluation's objectives, in order, so the scores can be recomputed (the front keeps its archs)
        points = r.pop("points")
        del r["archs"]
        r["trials"] = {m: [p[i] for p in points] for i, m in enumerate(metrics)}
    return {
        "config": str(config), "space": pipe.space.name, "data": pipe.data.name,
        "space_size": float(pipe.space.size), "objectives": [str(o) for o in pipe.objectives],
        "epochs": pipe.epochs, "config_epochs": pipe.config_epochs,
        "few_shot": pipe.cfg.supernet.training.few_shot,
        "supernet_trained_here": not pipe.trained_before,
        "train_cpu_s": pipe.train_cpu_s, "train_wall_s": pipe.train_wall_s,
        "references": refs, "budget": budget, "runs": runs,
    }


def per_100(r: dict) -> float:
    return r["overhead_cpu_s"] * 100.0 / r["evaluated"]


def _parts(res: dict) -> list[str]:
    """The evaluator's parts (each named by its first metric) in one space's results."""
    return [p for p in next(iter(res["runs"].values()))[0]["eval_cpu_s"] if p != "all"]


def render(results: dict, command: str, seconds: float, seeds: int, budget: int) -> str:
    lines = [
        "# Strategy overhead in the train-once pipeline (real evaluators)",
        "",
        "Each config's supernet is trained once; each strategy then runs the study loop for the budget's distinct",
        "evaluations with the config's evaluator (inherited validation accuracy with BN recalibration, ONNX Runtime",
        "latency measured on this CPU, MACs and parameters counted) and the config's objectives.",
        "Strategy: process CPU seconds inside setup + ask + tell (surrogate refits included, evaluation excluded)",
        f"per 100 evaluations, median [min-max] over {seeds} seeds, budget {budget}; the bar is "
        f"<= {BAR_CPU_PER_100:g}. Evaluation: CPU",
        "(wall) seconds per evaluation, median over runs, and its parts (supernet accuracy / latency measurement;",
        "a latency already in the run's cache file is not measured again). Front: hypervolume of the run's front",
        "(accuracy vs latency) as a fraction of the box between the best value of each objective over all runs of",
        "the space and the reference point, median [min-max] over seeds; reference: each objective's median over",
        "random search's evaluations (a random sample of the space), and, in the next column, its worst value over",
        "all runs. Every run's evaluations (accuracy, latency) and front (with architectures) are in the JSON "
        "beside this page.",
        "",
    ]
    for res in results.values():
        if res["epochs"] != res["config_epochs"]:
            lines.append(f"- `{res['config']}`: supernet trained {res['epochs']} epochs instead of the config's "
                         f"{res['config_epochs']}" + (f" (few-shot by {res['few_shot']}, split among the shots)"
                                                      if res["few_shot"] else "")
                         + ": the accuracies come from a shorter-trained supernet.")
    lines += ["", f"Command: `{command}`", "",
              f"Machine: {platform.machine()}, {os.cpu_count()} CPU(s), shared with other jobs while measured; "
              f"one thread; {seconds / 60:.1f} min in all (supernet training included where it ran).", "",
              "| space (config) | strategy | strategy CPU s / 100 | wall s / 100 | evaluation CPU s (wall) | "
              f"{' / '.join(_parts(next(iter(results.values()))))} CPU s | front hypervolume (median ref.) | "
              "(worst ref.) | front size |",
              "|---|---|---|---|---|---|---|---|---|"]
    for res in results.values():
        for name, runs in res["runs"].items():
            cpu = [per_100(r) for r in runs]
            wall = [r["overhead_wall_s"] * 100.0 / r["evaluated"] for r in runs]
            ev_cpu = np.median([r["eval_cpu_s"]["all"] / r["evaluated"] for r in runs])
            ev_wall = np.median([r["eval_wall_s"]["all"] / r["evaluated"] for r in runs])
            part_s = " / ".join(f"{np.median([r['eval_cpu_s'][p] / r['evaluated'] for r in runs]):.3f}"
                                for p in _parts(res))
            hv = [r["hypervolume"]["median"] for r in runs]
            hv_worst = [r["hypervolume"]["worst"] for r in runs]
            lines.append(
                f"| {res['space']} ({Path(res['config']).name}) | {name} | "
                f"{np.median(cpu):.2f} [{min(cpu):.2f}-{max(cpu):.2f}] | {np.median(wall):.2f} | "
                f"{ev_cpu:.3f} ({ev_wall:.3f}) | {part_s} | "
                f"{np.median(hv):.3f} [{min(hv):.3f}-{max(hv):.3f}] | "
                f"{np.median(hv_worst):.3f} [{min(hv_worst):.3f}-{max(hv_worst):.3f}] | "
                f"{int(np.median([len(r['front']) for r in runs]))} |")
    lines.append("")
    for res in results.values():
        point = {k: ", ".join(f"{o} {v:.4g}" for o, v in zip(res["objectives"], res["references"][k]))
                 for k in ("median", "worst", "best")}
        lines.append(f"- {res['space']}: {res['space_size']:.3g} architectures; reference points: median "
                     f"({point['median']}), worst ({point['worst']}); best ({point['best']}); supernet "
                     + (f"trained here in {res['train_cpu_s']:.0f} CPU s" if res["supernet_trained_here"]
                        else "reused from the work folder") + ".")
    return "\n".join(lines) + "\n"


def profile(config: str, epochs: int | None, strategy: str, budget: int, work: Path, out: Path) -> int:
    """One search (seed 0) with cProfile on only while the strategy runs (setup, ask, tell): where its time goes."""
    import cProfile
    import pstats

    from hwnas.strategies import get_strategy
    from hwnas.study import Study

    pipe = Pipeline(config, epochs, work)
    strat = get_strategy(strategy)
    prof = cProfile.Profile()
    for name in ("setup", "ask", "tell"):
        def profiled(*args, _method=getattr(strat, name), **kwargs):
            prof.enable()
            try:
                return _method(*args, **kwargs)
            finally:
                prof.disable()

        setattr(strat, name, profiled)
    study = Study(pipe.space, pipe.evaluator, pipe.objectives, strat, constraints=pipe.constraints,
                  batch_size=pipe.cfg.study.batch_size, seed=0)
    study.optimize(budget)
    out.parent.mkdir(parents=True, exist_ok=True)
    prof.dump_stats(str(out))
    print(f"{strategy} on {pipe.space.name}, {len(study.trials)} evaluations: the strategy's calls under cProfile")
    stats = pstats.Stats(prof)
    stats.sort_stats("cumulative").print_stats(30)
    stats.sort_stats("tottime").print_stats(15)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--configs", nargs="+", default=list(CONFIGS), help="train-once configs (relative to the repo)")
    p.add_argument("--epochs", default=DEFAULT_EPOCHS,
                   help="supernet epochs: N for every config, or STEM=N,... by config file stem (others: the "
                        "config's own); '' trains as configured")
    p.add_argument("--strategies", default="linas,random")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--budget", type=int, default=200)
    p.add_argument("--work", type=Path, default=ROOT / "runs" / "trainonce_overhead",
                   help="trained supernets and the latency cache (a rerun reuses them)")
    p.add_argument("--out", type=Path, default=ROOT / "runs" / "trainonce_overhead.md",
                   help="markdown table (the JSON goes beside it)")
    p.add_argument("--profile", type=Path, default=None, metavar="OUT",
                   help="profile one search (first config and strategy, seed 0) into OUT and print where it goes")
    args = p.parse_args(argv)
    configs = [str(c if Path(c).is_absolute() or Path(c).exists() else ROOT / c) for c in args.configs]
    try:
        if args.seeds < 1 or args.budget < 1:
            raise ValueError("--seeds and --budget must be >= 1")
        epochs = parse_epochs(args.epochs, [Path(c).stem for c in configs], strict=args.epochs != DEFAULT_EPOCHS)
    except ValueError as e:
        print(f"bench_trainonce_overhead: {e}", file=sys.stderr)
        return 1
    strategies = args.strategies.split(",")
    if args.profile:
        return profile(configs[0], epochs[Path(configs[0]).stem], strategies[0], args.budget, args.work, args.profile)
    t0 = time.perf_counter()
    results = {Path(c).stem: bench_space(c, epochs[Path(c).stem], strategies, args.seeds, args.budget, args.work)
               for c in configs}
    command = "python benchmarks/bench_trainonce_overhead.py " + " ".join(argv if argv is not None else sys.argv[1:])
    md = render(results, command.strip(), time.perf_counter() - t0, args.seeds, args.budget)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(md)
    args.out.with_suffix(".json").write_text(json.dumps({"command": command.strip(), "results": results}, indent=1))
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
