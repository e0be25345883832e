"""``hwnas search --config FILE.yaml [--out DIR]``: a persisted, resumable study from a config.

Run the same command again after an interruption (Ctrl-C, kill -9, a crash)
and the study resumes from its storage: nothing evaluated is lost or counted
twice. A config with a ``supernet:`` section runs the train-once pipeline.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from hwnas.app.config import load_search_config, read_yaml
from hwnas.core.errors import ConfigError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("search", help="run (or resume) a search from a YAML config",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", required=True, type=Path, help="YAML config file")
    p.add_argument("--out", type=Path, default=None, help="folder for front.csv, trials.csv (and models, plots)")
    p.add_argument("--budget", type=int, default=None, help="override study.budget (total distinct evaluations)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    raw = read_yaml(args.config)
    if "supernet" in raw:
        try:
            from hwnas.app.train_once import run_search
        except ModuleNotFoundError as e:
            raise ConfigError(f"{args.config}: the supernet pipeline is not available ({e})") from None
        return run_search(args.config, args.out)
    return run_table_search(args)


def build_study(cfg):
    """Space, evaluator, strategy, storage and executor from a validated SearchConfig."""
    from hwnas.evaluators.base import CombinedEvaluator
    from hwnas.evaluators.cost import target_evaluator
    from hwnas.evaluators.table import TableEvaluator
    from hwnas.executors import make_executor
    from hwnas.spaces import get_space
    from hwnas.storage import open_storage
    from hwnas.strategies import DEFAULT_STRATEGY, get_strategy
    from hwnas.study import Study

    space = get_space(cfg.space.name, **cfg.space.options)
    objectives, constraints = cfg.parsed_objectives(), cfg.parsed_constraints()
    costs = [target_evaluator(t.model, t.options, t.prefix, space) for t in cfg.targets]
    from_costs = {m for c in costs for m in c.metrics}
    columns = [m for m in dict.fromkeys([o.metric for o in objectives] + [c.metric for c in constraints])
               if m not in from_costs]
    parts = costs
    if cfg.evaluator is not None:
        parts = [TableEvaluator(cfg.evaluator.path, space, columns=columns,
                                arch_column=cfg.evaluator.arch_column), *costs]
    elif columns:
        raise ConfigError(f"objectives/constraints {columns} come from no target; the targets give {sorted(from_costs)}")
    evaluator = parts[0] if len(parts) == 1 else CombinedEvaluator(parts)
    strategy = get_strategy(cfg.strategy.name or DEFAULT_STRATEGY, **cfg.strategy.options)
    ex_opts = {"workers": cfg.executor.workers} if cfg.executor.name == "process" else (
        {"address": cfg.executor.address} if cfg.executor.name == "ray" else {})
    return Study(space, evaluator, objectives, strategy, constraints=constraints,
                 storage=open_storage(cfg.study.storage), name=cfg.study.name,
                 batch_size=cfg.study.batch_size, seed=cfg.study.seed,
                 executor=make_executor(cfg.executor.name, **ex_opts))


def run_table_search(args: argparse.Namespace) -> int:
    from hwnas.report.tables import print_front, write_trials_csv

    console = Console()
    cfg = load_search_config(args.config)
    budget = args.budget or cfg.study.budget
    study = build_study(cfg)
    done = study.n_evaluated
    if done:
        msg = f"resuming study {cfg.study.name!r} from {cfg.study.storage}: {done} evaluations already recorded"
        if study.interrupted:
            msg += f", {len(study.interrupted)} interrupted evaluation(s) will be run again"
        console.print(msg)
    with Progress(TextColumn("search"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, disable=args.quiet) as bar:
        task = bar.add_task("search", total=budget, completed=min(done, budget))
        study.optimize(budget, callbacks=[lambda s, _: bar.update(task, completed=s.n_evaluated)])
    front = study.pareto_front()
    fmt = study.space.format
    failed = sum(t.state == "failed" for t in study.trials)
    console.print(f"{study.n_evaluated} architectures evaluated ({failed} failed), "
                  f"{study.served_from_cache} repeats served from cache")
    print_front(front, study.objectives, study.constraints, format_arch=fmt, console=console)
    if args.out:
        names = list(study.evaluator.metrics)
        write_trials_csv(args.out / "front.csv", front, names, fmt)
        write_trials_csv(args.out / "trials.csv", study.trials, names, fmt)
        console.print(f"wrote {args.out / 'front.csv'} and {args.out / 'trials.csv'}")
    return 0
