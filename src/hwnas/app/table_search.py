"""The table search job: search a space with the configured evaluator and targets, print and write the front.

A persisted study resumes from its storage: run the same config again after an interruption
(Ctrl-C, kill -9, a crash) and nothing evaluated is lost or counted twice. A table holds part of a
space: proposals outside it are never evaluated nor counted, the search stops with a message once
every architecture of the table is evaluated, and outputs write each architecture as the table does.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from hwnas.app.components import build_data, build_quality, build_space, build_study, build_targets, combine
from hwnas.app.result import SearchResult
from hwnas.app.schema import Config
from hwnas.core.progress import progress_bar


def run_table_search(cfg: Config, out: Path | None = None, budget: int | None = None,
                     console: Console | None = None, quiet: bool = False) -> SearchResult:
    """Run (or resume) the study of ``cfg`` up to ``budget`` (default ``study.budget``) distinct evaluations.

    With ``out``, writes ``out/front.csv``, ``out/trials.csv`` and ``out/report.html``; ``quiet`` hides the
    progress bar.
    """
    from hwnas.report.html import write_html
    from hwnas.report.study_view import view_of
    from hwnas.report.tables import print_front, write_trials_csv

    console = console or Console()
    if cfg.threads is not None:
        import torch

        torch.set_num_threads(cfg.threads)
    budget = budget or cfg.study.budget
    data = build_data(cfg)
    space = build_space(cfg)
    targets = build_targets(cfg, space)
    quality = build_quality(cfg, space, targets, **({"data": data} if data is not None else {}))
    evaluator = combine(quality, targets)
    study = build_study(cfg, space, evaluator, out)
    done = study.n_evaluated
    if done:
        msg = f"resuming study {cfg.study.name!r} from {cfg.study.storage}: {done} evaluations already recorded"
        if study.interrupted:
            msg += f", {len(study.interrupted)} interrupted evaluation(s) will be run again"
        console.print(msg)
    with progress_bar(quiet) as bar:
        task = bar.add_task("search", total=budget, completed=min(done, budget), info="")
        study.optimize(budget, callbacks=[lambda s, _: bar.update(
            task, completed=s.n_evaluated, info=f"{sum(t.state == 'failed' for t in s.trials)} failed")])
    front = study.pareto_front()
    table = _table(evaluator)
    fmt = table.spelling if table is not None else study.space.format
    failed = sum(t.state == "failed" for t in study.trials)
    console.print(f"{study.n_evaluated} architectures evaluated ({failed} failed), "
                  f"{study.served_from_cache} repeats served from cache")
    if study.exhausted and study.catalog_size is not None and study.n_evaluated < budget:
        source = table.source if table is not None else "the evaluator's catalog"
        console.print(f"table exhausted: all {study.catalog_size} distinct architectures of {source} "
                      f"evaluated (budget {budget})", soft_wrap=True, markup=False, highlight=False)
    if not console.quiet:
        print_front(front, study.objectives, study.constraints, format_arch=fmt, console=console)
    if out is not None:
        names = list(study.evaluator.metrics)
        write_trials_csv(out / "front.csv", front, names, fmt)
        write_trials_csv(out / "trials.csv", study.trials, names, fmt)
        report = write_html(view_of(study, fmt), out / "report.html", study.evaluator.metric_kinds())
        console.print(f"wrote {out / 'front.csv'}, {out / 'trials.csv'} and {report}")
    rows = [{"number": t.number, "arch": fmt(t.arch), **t.metrics} for t in front]
    return SearchResult(study=study, rows=rows, out=out)


def _table(evaluator):
    """The part of ``evaluator`` that holds a table and knows its spelling of each architecture, or None."""
    parts = getattr(evaluator, "evaluators", [evaluator])
    return next((e for e in parts if callable(getattr(e, "spelling", None))), None)
