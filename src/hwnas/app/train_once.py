"""The train-once search job (a config with a ``supernet:`` section): ``hwnas search --config examples/digits.yaml --out DIR``.

1. train the supernet (or continue / reuse its checkpoint ``DIR/supernet.safetensors``);
2. search its sub-networks with the configured strategy (default: the predictor-guided one) on
   inherited accuracy (the ``supernet`` evaluator) vs the targets (default: latency measured in
   ONNX Runtime on this CPU, MACs and parameters counted); the study is stored in
   ``DIR/study.db``, so an interrupted search resumes;
3. write ``front.csv`` (``arch, accuracy, latency_ms, macs, params, model``;
   ``accuracy`` is the extracted model's test-split accuracy) and ``front.json``, export each front
   member to ``models/*.onnx`` with its metadata (:mod:`hwnas.export.metadata`) and check ONNX
   Runtime against PyTorch;
4. plot the front to ``front.png``.

The default study (``study.name: supernet``) writes these into ``DIR``; a study of another name
writes them into ``DIR/<name>/`` (:func:`study_dir`), on the same supernet and in the same
``study.db``: another objective, constraint or target is searched again without training.
"""

from __future__ import annotations

import csv
import hashlib
import json
import time
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

from hwnas.app.components import (
    build_data,
    build_policy_space,
    build_quality,
    build_study,
    build_targets,
    build_trainable_space,
    combine,
    expand_out,
    with_ptq,
)
from hwnas.app.outdir import output_folder
from hwnas.app.result import SearchResult
from hwnas.app.schema import Config
from hwnas.app.study_folder import study_dir
from hwnas.app.train import checkpoint_path, train_supernet
from hwnas.core.errors import ConfigError
from hwnas.core.progress import progress_bar
from hwnas.spaces.quantized import QuantizedSpace
from hwnas.spaces.trainable import TrainableSpace

FRONT_COLUMNS = ["arch", "accuracy", "latency_ms", "macs", "params", "model"]


def _file_id(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def _cache_measured_latency(cfg: Config) -> None:
    """A ``measure`` target without a ``cache`` option caches in the default latency cache file
    (``$HWNAS_CACHE/latency.json``): the train-once job never measures the same network twice."""
    from hwnas.costs.measure import default_cache_path

    for t in cfg.targets:
        if t.name == "measure" and "cache" not in t.options:
            t.options["cache"] = str(default_cache_path())


def run_train_once(cfg: Config, out: Path, budget: int | None = None, console: Console | None = None,
                   quiet: bool = False) -> SearchResult:
    """Run the whole job (train, search up to ``budget`` or ``study.budget``, export) into ``out``;
    a run that fails before writing a file leaves no ``out`` folder behind."""
    out = Path(out)
    with output_folder(out):
        return _run_train_once(cfg, out, budget, console or Console(), quiet)


def _run_train_once(cfg: Config, out: Path, budget: int | None, console: Console, quiet: bool) -> SearchResult:
    dest = study_dir(out, cfg.study.name)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(cfg.threads or 1)
    t_start = time.perf_counter()

    data = build_data(cfg)
    trained = build_trainable_space(cfg, data)  # the supernet's space; a policy adds no trained weight
    space = build_policy_space(cfg, trained)
    console.print(data.summary(), soft_wrap=True, markup=False, highlight=False)
    console.print(f"space {space.name}: {space.size:.3g} architectures")
    _cache_measured_latency(cfg)
    targets = build_targets(cfg, space)  # fail before training
    checkpoint = checkpoint_path(cfg, out)
    net, _ = train_supernet(cfg, trained, data, checkpoint, console, quiet, out=out)

    # ---------------------------------------------------------------- search
    quality = build_quality(cfg, trained, targets, data=data, net=net, identity=_file_id(checkpoint))
    quality = with_ptq(cfg, space, quality)
    evaluator = combine(quality, targets)
    study = build_study(cfg, space, evaluator, out)
    budget = budget or cfg.study.budget
    done = study.n_evaluated
    if done:
        console.print(f"search: resuming, {done} evaluations already recorded in "
                      f"{expand_out(cfg.study.storage, out)}")
    cost = _cost_metric(cfg, evaluator)
    with progress_bar(quiet) as bar:
        task = bar.add_task(f"search ({' + '.join(o.metric for o in study.objectives)})", total=budget,
                            completed=min(done, budget), info="")
        study.optimize(budget, callbacks=[lambda s, _: bar.update(task, completed=s.n_evaluated,
                                                                  info=f"front {len(s.pareto_front())}")])
    front = sorted(study.pareto_front(), key=lambda t: t.metrics.get(cost, 0.0))
    caches = [m.model.cache for m in targets if getattr(getattr(m, "model", None), "cache", None) is not None]
    console.print(f"search: {study.n_evaluated} architectures evaluated, {len(front)} on the front"
                  + "".join(f" ({len(c)} latencies cached in {c.path})" for c in caches))

    # ---------------------------------------------------------------- export
    if not hasattr(quality, "extract"):
        raise ConfigError(f"evaluator {cfg.evaluator.name!r}: the train-once job exports the front's models and "
                          "needs an evaluator that extracts them (supernet)")
    dest.mkdir(parents=True, exist_ok=True)
    if hasattr(quality, "deployable"):
        from hwnas.app.quantized_front import never_slower

        front = never_slower(front, space, evaluator, study, console)
    if dest != out:
        console.print(f"study {cfg.study.name!r}: front, models and plot in {dest}")
    rows = export_front(cfg, space, data, quality, front, dest, console, evaluator=evaluator)
    if cfg.compress is not None and cfg.compress.prune is not None and rows:
        from hwnas.app.prune import prune_front

        rows = prune_front(cfg, space, data, quality, front, rows, dest, console)
    if cfg.export.plot:
        plot = plot_search(study, evaluator, front, rows, cost, _split(cfg), dest / "front.png",
                           f"{space.name} on {data.name}: {len(front)} Pareto-optimal of {study.n_evaluated}")
        console.print(f"plot: {plot.path}")
        console.print(f"report: {write_search_report(study, evaluator, front, rows, dest / 'report.html')}")
    table = Table(title=f"Pareto front ({dest / 'front.csv'})",
                  caption=f"chosen on {_searched_quality(cfg)} (the searched split, in front.csv); "
                          "accuracy and onnx_accuracy on the test split")
    for c in ("model", "accuracy", "onnx_accuracy", "latency_ms", "macs", "params", "max_abs_diff"):
        table.add_column(c)
    for r in rows:
        table.add_row(r["model"], f"{r['accuracy']:.2f}", f"{r['onnx_accuracy']:.2f}", f"{r['latency_ms']:.4f}",
                      str(r["macs"]), str(r["params"]), f"{r['max_abs_diff']:.2e}")
    console.print(table)
    console.print(f"done in {time.perf_counter() - t_start:.1f}s")
    return SearchResult(study=study, rows=rows, out=dest)


def plot_search(study, evaluator, front, rows: list[dict], cost: str, split: str, path: Path, title: str):
    """``front.png``: every evaluation's searched quality (on ``split``) against ``cost``, the front on it,
    and the front members' test accuracy (what ``front.csv`` reports), each series labelled; returns
    the :class:`~hwnas.report.front_plot.FrontPlot`."""
    from hwnas.report.front_plot import Axis, FrontSeries, plot_front

    kinds = evaluator.metric_kinds()
    quality = next((o.metric for o in study.objectives if o.metric in kinds and not kinds[o.metric].is_cost),
                   "accuracy")
    unit = kinds[cost].unit if cost in kinds else ""
    x = Axis(cost, "min", unit, "ONNX Runtime, this CPU" if cost == "latency_ms" else "")
    y = Axis("accuracy" if quality == "accuracy" else f"{quality} / accuracy", "max", "%")

    def point(t, value):
        return (t.metrics[cost], value)

    done = [t for t in study.trials if t.ok and cost in t.metrics and quality in t.metrics]
    feasible = [point(t, t.metrics[quality]) for t in done if t.feasible(study.constraints)]
    infeasible = [point(t, t.metrics[quality]) for t in done if not t.feasible(study.constraints)]
    fronts = [FrontSeries(f"front, {split} {quality} (searched)", [point(t, t.metrics[quality]) for t in front]),
              FrontSeries("front members, test accuracy (front.csv)",
                          [point(t, r["accuracy"]) for t, r in zip(front, rows)], against_evaluated=False)]
    return plot_front(path, x, y, feasible, fronts, title, infeasible)


def write_search_report(study, evaluator, front, rows: list[dict], path: Path) -> Path:
    """``report.html`` (:mod:`hwnas.report.html`) beside ``front.csv``, each front member linked to its model."""
    from hwnas.report.html import write_html
    from hwnas.report.study_view import view_of

    models = {t.number: r["model"] for t, r in zip(front, rows) if r.get("model")}
    return write_html(view_of(study, models=models), path, evaluator.metric_kinds())


def _split(cfg: Config) -> str:
    return str(cfg.evaluator.options.get("split", "val")) if cfg.evaluator is not None else "val"


def _cost_metric(cfg: Config, evaluator) -> str:
    """The cost the front is sorted and plotted by: ``latency_ms`` when measured, else the first minimised objective."""
    if "latency_ms" in evaluator.metrics:
        return "latency_ms"
    return next((o.metric for o in cfg.parsed_objectives() if o.direction == "min"), cfg.parsed_objectives()[0].metric)


def _searched_quality(cfg: Config) -> str:
    """The quality metric(s) the search chose on, as front.csv names them (e.g. ``val_accuracy``)."""
    from hwnas.evaluators.supernet import SupernetEvaluator

    names = [o.metric for o in cfg.parsed_objectives() if o.metric in SupernetEvaluator.metrics] or ["accuracy"]
    return " and ".join(f"{_split(cfg)}_{m}" for m in names)


def export_front(cfg: Config, space: TrainableSpace, data, quality, front, out: Path,
                 console: Console, evaluator=None) -> list[dict]:
    """Extract, export and check every front member; write ``front.csv`` and ``front.json``; return the rows.

    Each ONNX model carries its metadata (:mod:`hwnas.export.metadata`): class names, input shape and
    layout, preprocessing, architecture, the metrics of its ``front.csv`` row and the objectives. A row holds
    every objective and constrained metric the search recorded (an accelerator's ``energy_mj`` too). With a
    quantization policy the row adds ``bits`` (the policy) and ``size_kb`` (weights at their bit widths); when
    the policy deploys to ONNX Runtime (``quality.deployable``) the model is the quantized one the search
    scored, with ``onnx_kb`` (the file) and, beside ``accuracy`` (PyTorch fp32), ``onnx_accuracy`` of the
    quantized model in ONNX Runtime. An accelerator policy's model is its fake-quantized sub-network
    (``accuracy`` is the fake-quantized one), exported as the float graph that simulates it.
    """
    from hwnas.evaluators.base import kind_from_name
    from hwnas.export.metadata import model_metadata
    from hwnas.export.onnx import export_onnx, onnx_accuracy
    from hwnas.supernet.calibrate import accuracy

    models = out / "models"
    models.mkdir(exist_ok=True)
    rows = []
    x_test, y_test = data.split("test")
    split = _split(cfg)
    with_soft = all("soft_accuracy" in t.metrics for t in front)  # trials recorded before it existed lack it
    quality_names = set(getattr(quality, "metrics", ()))
    selected_on = [f"{_column(o.metric, quality_names, split)}:{o.direction}" for o in cfg.parsed_objectives()]
    class_names = list(data.class_names) or [str(i) for i in range(data.num_classes)]
    deployable = getattr(quality, "deployable", None)
    searched = cfg.searched_metrics()
    for i, t in enumerate(front):
        module = quality.extract(t.arch)
        acc = accuracy(module, x_test, y_test)
        layers = space.layers(t.arch)
        name = f"{i:02d}_{hashlib.sha256(t.key.encode()).hexdigest()[:10]}.onnx"
        row = {"arch": space.format(t.arch), "accuracy": round(acc, 4), "latency_ms": t.metrics.get("latency_ms", float("nan")),
               "macs": int(t.metrics.get("macs", sum(lay.macs for lay in layers))),
               "params": int(t.metrics.get("params", sum(lay.params for lay in layers))),
               "model": f"models/{name}", f"{split}_accuracy": t.metrics["accuracy"]}
        if with_soft:
            row[f"{split}_soft_accuracy"] = t.metrics["soft_accuracy"]
        for m in searched:  # every objective and constrained metric, e.g. an accelerator's energy
            if m in t.metrics and _column(m, quality_names, split) not in row:
                row[_column(m, quality_names, split)] = t.metrics[m]
        if isinstance(space, QuantizedSpace):
            from hwnas.app.quantized_front import policy_columns

            row.update(policy_columns(space, t))
        if cfg.export.onnx and deployable is not None:
            from hwnas.app.quantized_front import write_deployable

            metrics = {**{_column(m, quality_names, split): v for m, v in t.metrics.items()},
                       **{k: v for k, v in row.items() if k not in ("arch", "model", "bits", "note")}}
            props = model_metadata(class_names=class_names, input_shape=(1, *space.input_shape),
                                   preprocessing=dict(data.preprocessing), architecture=row["arch"], arch=t.arch,
                                   space=space.describe(), metrics=metrics, selected_on=selected_on)
            row.update(write_deployable(deployable(t.arch, module), module, models / name, props, x_test, y_test,
                                        f"{space.name} sub-network {row['arch']} for {data.name}, policy "
                                        f"{row['bits']}, exported by hwnas (hwnas.export.metadata)"))
            console.print(f"export {row['model']} ({row['bits']}): {row['onnx_kb']:.1f} kB; test accuracy torch "
                          f"fp32 {acc:.2f}% / onnxruntime {row['onnx_accuracy']:.2f}%")
        elif cfg.export.onnx:
            metrics = {**{_column(m, quality_names, split): v for m, v in t.metrics.items()},
                       **{k: v for k, v in row.items() if k not in ("arch", "model", "bits", "note")}}
            props = model_metadata(class_names=class_names, input_shape=(1, *space.input_shape),
                                   preprocessing=dict(data.preprocessing), architecture=row["arch"], arch=t.arch,
                                   space=space.describe(), metrics=metrics, selected_on=selected_on)
            doc = (f"{space.name} sub-network {row['arch']} for {data.name} ({len(class_names)} classes; "
                   f"test accuracy {acc:.2f}%), exported by hwnas; metadata_props: class_names, preprocessing, "
                   "input_shape, metrics, ... (hwnas.export.metadata)")
            res = export_onnx(module, (1, *space.input_shape), models / name, tolerance=cfg.export.tolerance,
                              metadata=props, doc_string=doc)
            row["onnx_accuracy"] = round(onnx_accuracy(res.path, x_test, y_test), 4)
            row["max_abs_diff"] = res.max_abs_diff
            console.print(f"export {row['model']}: ONNX Runtime vs PyTorch max abs diff {res.max_abs_diff:.2e}; "
                          f"test accuracy torch {acc:.2f}% / onnxruntime {row['onnx_accuracy']:.2f}%")
        else:
            row["onnx_accuracy"], row["max_abs_diff"], row["model"] = float("nan"), float("nan"), ""
        rows.append(row)
    extra = [k for k in rows[0] if k not in FRONT_COLUMNS] if rows else []
    with open(out / "front.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FRONT_COLUMNS + extra)
        w.writeheader()
        w.writerows(rows)
    kinds = evaluator.metric_kinds() if evaluator is not None else {}
    directions = {}  # for each numeric column, which way is better (read by `hwnas pick`)
    for c in FRONT_COLUMNS + extra:
        if c in ("arch", "model", "bits", "note"):
            continue
        base = c[len(split) + 1:] if c.startswith(f"{split}_") else c
        kind = kinds.get(base) or kinds.get(c) or kind_from_name(c)
        directions[c] = "min" if kind.is_cost or c == "max_abs_diff" else "max"
    (out / "front.json").write_text(json.dumps({
        "study": cfg.study.name, "space": space.describe(), "selected_on": selected_on,
        "constraints": list(cfg.constraints), "directions": directions, "rows": rows}, indent=1))
    return rows


def _column(metric: str, quality_names: set[str], split: str) -> str:
    """A metric's name in ``front.csv``: the supernet's quality metrics carry their split (``val_accuracy``)."""
    return f"{split}_{metric}" if metric in quality_names else metric
