"""The public Python API, equal to the CLI: run a config, or search from objects.

.. code-block:: python

    import hwnas

    result = hwnas.run("examples/digits.yaml", out="runs/demo")     # = hwnas search --config ... --out ...
    result = hwnas.run({"space": "nb201", "evaluator": {"name": "table", "options": {"path": "t.csv"}},
                        "objectives": ["acc:max", "lat_ms:min"], "study": {"storage": None, "budget": 50}})
    for row in result.rows: ...                                      # the Pareto front as dicts

    study = hwnas.search(space="nb201", evaluator=my_evaluator, objectives=["acc:max", "lat_ms:min"],
                         strategy="random", budget=50)
    study.pareto_front()                                             # Trials: .arch, .metrics

    hwnas.run("examples/digits.yaml", out="runs/demo", study="fast")  # another study on the trained supernet
    chosen = hwnas.pick("runs/demo", max={"latency_ms": 0.05}, copy_to="model.onnx")   # = hwnas pick
    hwnas.train("examples/digits.yaml", out="runs/demo", nproc=2)   # = hwnas train: the supernet only
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console

from hwnas.app.config import load_config
from hwnas.app.result import SearchResult
from hwnas.app.schema import TRAIN_ONCE, Config
from hwnas.core.errors import ConfigError


def default_out(source: Any, cfg: Config) -> Path | None:
    """The output folder when none is given: ``runs/<config file stem>`` for the train-once job, else none."""
    if cfg.job != TRAIN_ONCE:
        return None
    if isinstance(source, (str, Path)):
        return Path("runs") / Path(source).stem
    return Path("runs") / cfg.study.name


def run_config(cfg: Config, out: str | Path | None = None, budget: int | None = None,
               console: Console | None = None, quiet: bool = False, study: str | None = None) -> SearchResult:
    """Run the job ``cfg`` describes (train-once with a ``supernet:`` section, else table search).

    ``study`` overrides ``study.name``: a train-once study of another name searches the output folder's
    trained supernet again (no training) and writes its front into ``out/<study>``.
    """
    if study is not None:
        cfg = cfg.model_copy(update={"study": cfg.study.model_copy(update={"name": study})})
    out = Path(out) if out is not None else None
    if cfg.job == TRAIN_ONCE:
        from hwnas.app.train_once import run_train_once

        if out is None:
            raise ConfigError("the train-once job needs an output folder (out)")
        return run_train_once(cfg, out, budget=budget, console=console, quiet=quiet)
    from hwnas.app.table_search import run_table_search

    return run_table_search(cfg, out=out, budget=budget, console=console, quiet=quiet)


def run(config: str | Path | dict | Config, out: str | Path | None = None, *, budget: int | None = None,
        verbose: bool = False, base: str | Path | None = None, study: str | None = None) -> SearchResult:
    """Build and run (or resume) the study of ``config``: a YAML file, a dict or a :class:`Config`.

    ``out`` is the output folder (the train-once job's default: ``runs/<config stem>``); ``budget``
    overrides ``study.budget``; ``verbose`` prints progress and the front as the CLI does; ``base`` is the
    folder relative paths of a dict config start from (default: the working directory); ``study``
    overrides ``study.name`` (see :func:`run_config`).
    """
    cfg = load_config(config, base=base)
    out = out if out is not None else default_out(config, cfg)
    console = Console() if verbose else Console(quiet=True)
    return run_config(cfg, out, budget=budget, console=console, quiet=not verbose, study=study)


def train(config: str | Path | dict | Config, out: str | Path | None = None, *, nproc: int = 1,
          verbose: bool = False, base: str | Path | None = None):
    """Train (or continue) the supernet of the train-once ``config`` into ``out`` without searching, on
    ``nproc`` local processes (data-parallel; or as the rank torchrun gave this process); returns a
    :class:`~hwnas.app.train.TrainOutcome` (checkpoint path, epochs it holds, processes). :func:`run` on
    the same ``out`` then reuses the checkpoint."""
    from hwnas.app.train import run_train

    cfg = load_config(config, base=base)
    out = out if out is not None else default_out(config, cfg)
    if out is None:
        raise ConfigError("hwnas.train needs a train-once config (one with a 'supernet:' section)")
    console = Console() if verbose else Console(quiet=True)
    return run_train(cfg, out, nproc=nproc, console=console, quiet=not verbose)


def search(space, evaluator, objectives: Sequence, strategy=None, budget: int = 100, constraints: Sequence = (),
           storage=None, name: str = "study", seed: int = 0, batch_size: int | None = None, executor=None,
           strategy_options: dict | None = None):
    """Search from objects and return the finished :class:`hwnas.study.Study` (read ``study.pareto_front()``).

    ``space``: a :class:`~hwnas.spaces.base.ChoiceSpace` or a registered name; ``evaluator``: an
    :class:`~hwnas.evaluators.base.Evaluator` or a list of them (metrics merged); ``objectives`` /
    ``constraints``: :class:`~hwnas.core.objectives.Objective` / ``Constraint`` objects or their text
    (``"acc:max"``, ``"lat_ms <= 5"``); ``strategy``: a Strategy, a registered name or None for the default
    (built with ``strategy_options``); ``storage``: a Storage, a file / URL, or None for in memory (a stored
    study resumes); ``executor``: an Executor, a registered name or None for serial.
    """
    from hwnas.core.objectives import Constraint, Objective
    from hwnas.evaluators import CombinedEvaluator
    from hwnas.executors import make_executor
    from hwnas.spaces import get_space
    from hwnas.storage import Storage, open_storage
    from hwnas.strategies import DEFAULT_STRATEGY, get_strategy
    from hwnas.study import Study

    if isinstance(space, str):
        space = get_space(space)
    if isinstance(evaluator, (list, tuple)):
        evaluator = evaluator[0] if len(evaluator) == 1 else CombinedEvaluator(list(evaluator))
    if strategy is None or isinstance(strategy, str):
        strategy = get_strategy(strategy or DEFAULT_STRATEGY, **(strategy_options or {}))
    elif strategy_options:
        raise ConfigError("strategy_options apply to a strategy given by name, not to a strategy object")
    if not isinstance(storage, Storage):
        storage = open_storage(None if storage is None else str(storage))
    if isinstance(executor, str):
        executor = make_executor(executor)
    study = Study(space, evaluator, [o if isinstance(o, Objective) else Objective.parse(o) for o in objectives],
                  strategy, constraints=[c if isinstance(c, Constraint) else Constraint.parse(c) for c in constraints],
                  storage=storage, name=name, batch_size=batch_size, seed=seed, executor=executor)
    study.optimize(budget)
    return study
