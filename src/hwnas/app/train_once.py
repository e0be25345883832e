"""The train-once search job: ``hwnas search --config examples/digits.yaml --out DIR``.

1. train the supernet (or continue / reuse its checkpoint ``DIR/supernet.safetensors``);
2. search its sub-networks with the default (predictor-guided) strategy on
   inherited accuracy vs latency measured in ONNX Runtime on this CPU (the study
   is stored in ``DIR/study.db``, so an interrupted search resumes);
3. write ``DIR/front.csv`` (``arch, accuracy, latency_ms, macs, params, model``;
   ``accuracy`` is the extracted model's test-split accuracy), export each front
   member to ``DIR/models/*.onnx`` and check ONNX Runtime against PyTorch;
4. plot the front to ``DIR/front.png``.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import sys
import time
from pathlib import Path

import torch
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from hwnas.app.pipeline_config import PipelineConfig, load_pipeline_config
from hwnas.core.errors import ConfigError
from hwnas.data import get_dataset
from hwnas.spaces.trainable import TrainableSpace

FRONT_COLUMNS = ["arch", "accuracy", "latency_ms", "macs", "params", "model"]


def _import_spaces() -> None:
    for mod in ("hwnas.spaces.mobilenet", "hwnas.spaces.nb201_net", "hwnas.spaces.signal1d"):
        __import__(mod)


def build_space(cfg: PipelineConfig, data) -> TrainableSpace:
    """The configured trainable space, with input shape and class count taken from the data unless given."""
    from hwnas.spaces import SPACES, get_space

    _import_spaces()
    try:
        probe = get_space(cfg.supernet.space)
    except ConfigError as e:
        raise ConfigError(f"supernet.space: {e}") from None
    if not isinstance(probe, TrainableSpace):
        trainable = [n for n in SPACES.available() if isinstance(get_space(n), TrainableSpace)]
        raise ConfigError(f"supernet.space: {cfg.supernet.space!r} is not trainable; allowed {trainable}")
    options = {"input_shape": list(data.input_shape), "num_classes": data.num_classes, **cfg.supernet.space_options}
    try:
        space = get_space(cfg.supernet.space, **options)
    except TypeError as e:
        raise ConfigError(f"supernet.space_options: {e}") from None
    except ConfigError as e:
        raise ConfigError(f"supernet.space_options: {e}") from None
    if tuple(space.input_shape) != tuple(data.input_shape):
        raise ConfigError(f"supernet.space_options.input_shape: {list(space.input_shape)} differs from the data's "
                          f"{list(data.input_shape)}")
    return space


def _progress(console: Console) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
                    TimeElapsedColumn(), TimeRemainingColumn(), console=console, transient=False)


def build_seeded_supernet(space: TrainableSpace, seed: int, few_shot: str | None = None):
    """The space's supernet (split by dimension ``few_shot`` when given) with initial weights drawn from ``seed``
    (the global RNG is left as it was), so the same config trains the same supernet."""
    from hwnas.supernet.fewshot import make_supernet

    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return make_supernet(space, few_shot)


def train_supernet(cfg: PipelineConfig, space: TrainableSpace, data, checkpoint: Path, console: Console):
    from hwnas.supernet.train import SupernetTrainer

    net = build_seeded_supernet(space, cfg.supernet.training.seed, cfg.supernet.training.few_shot)
    trainer = SupernetTrainer(net, data, cfg.supernet.training, checkpoint)
    start = trainer.resume()
    if start >= cfg.supernet.training.epochs:
        console.print(f"supernet: reusing trained checkpoint {checkpoint} ({start} epochs)")
        return net.eval(), trainer
    if start:
        console.print(f"supernet: resuming training from {checkpoint} at epoch {start}/{cfg.supernet.training.epochs}")
    with _progress(console) as bar:
        task = bar.add_task("train supernet", total=trainer.total_steps, completed=start * trainer.steps_per_epoch,
                            info="")
        result = trainer.train(lambda done, total, info: bar.update(
            task, completed=done, info=f"epoch {info['epoch']} loss {info['loss']:.3f}"))
    console.print(f"supernet: trained {result.epochs_done} epochs in {result.seconds:.1f}s"
                  + (f" (resumed at epoch {result.resumed_from})" if result.resumed_from else ""))
    return net.eval(), trainer


def _file_id(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def run_search(config_path: str | Path, out_dir: str | Path | None = None, console: Console | None = None) -> int:
    """Run the whole job; returns the process exit code (0 on success)."""
    from hwnas.costs.count import CountModel
    from hwnas.costs.measure import LatencyCache, MeasuredLatency
    from hwnas.evaluators.base import CombinedEvaluator
    from hwnas.evaluators.cost import CostEvaluator, target_evaluator
    from hwnas.evaluators.supernet import SupernetEvaluator
    from hwnas.storage import open_storage
    from hwnas.strategies import DEFAULT_STRATEGY, get_strategy
    from hwnas.study import Study

    console = console or Console()
    config_path = Path(config_path)
    cfg = load_pipeline_config(config_path)
    out = Path(out_dir) if out_dir is not None else Path("runs") / config_path.stem
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(cfg.threads)
    t_start = time.perf_counter()

    try:
        data = get_dataset(cfg.data.name, **cfg.data.options)
    except TypeError as e:
        raise ConfigError(f"data.options: {e}") from None
    space = build_space(cfg, data)
    console.print(f"data {data.name}: {data.describe()['sizes']}, input {list(data.input_shape)}; "
                  f"space {space.name}: {space.size:.3g} architectures")
    targets = [target_evaluator(t.model, t.options, t.prefix, space) for t in cfg.targets]  # fail before training
    checkpoint = cfg.supernet.checkpoint or out / "supernet.safetensors"
    net, _ = train_supernet(cfg, space, data, checkpoint, console)

    # ---------------------------------------------------------------- search
    quality = SupernetEvaluator(net, data, cfg.evaluation.split, cfg.evaluation.calib_samples,
                                identity=_file_id(checkpoint))
    cache = LatencyCache(cfg.latency.cache)
    latency = CostEvaluator(MeasuredLatency(cfg.latency.runtime, cfg.latency.threads, cfg.latency.warmup,
                                            cfg.latency.repeats, cache))
    parts = [quality, latency, CostEvaluator(CountModel(precisions=("fp32",)))]
    parts += targets
    evaluator = CombinedEvaluator(parts)
    strategy = get_strategy(cfg.search.strategy or DEFAULT_STRATEGY, **cfg.search.strategy_options)
    study = Study(space, evaluator, cfg.objectives(), strategy, constraints=cfg.constraints(),
                  storage=open_storage(str(out / "study.db")), name="supernet", batch_size=cfg.search.batch_size,
                  seed=cfg.search.seed)
    budget = cfg.search.budget
    done = study.n_evaluated
    if done:
        console.print(f"search: resuming, {done} evaluations already recorded in {out / 'study.db'}")
    with _progress(console) as bar:
        task = bar.add_task("search (accuracy + measured latency)", total=budget, completed=min(done, budget), info="")
        study.optimize(budget, callbacks=[lambda s, _: bar.update(task, completed=s.n_evaluated,
                                                                  info=f"front {len(s.pareto_front())}")])
    front = sorted(study.pareto_front(), key=lambda t: t.metrics.get("latency_ms", 0.0))
    console.print(f"search: {study.n_evaluated} architectures evaluated, {len(front)} on the front "
                  f"({len(cache)} latencies cached in {cache.path})")

    # ---------------------------------------------------------------- export
    rows = export_front(cfg, space, data, quality, front, out, console)
    if cfg.export.plot:
        from hwnas.report.front_plot import plot_front

        points = [(t.metrics["latency_ms"], t.metrics["accuracy"]) for t in study.trials
                  if t.ok and "latency_ms" in t.metrics and "accuracy" in t.metrics]
        fpts = [(t.metrics["latency_ms"], t.metrics["accuracy"]) for t in front]
        plot = plot_front(points, fpts, out / "front.png", "latency_ms (ONNX Runtime, this CPU)",
                          f"accuracy (% , {cfg.evaluation.split} split, inherited)",
                          f"{space.name} on {data.name}: {len(front)} Pareto-optimal of {len(points)}")
        console.print(f"plot: {plot}")
    table = Table(title=f"Pareto front ({out / 'front.csv'})",
                  caption=f"chosen on {_searched_quality(cfg)} (the searched split, in front.csv); "
                          "accuracy and onnx_accuracy on the test split")
    for c in ("model", "accuracy", "onnx_accuracy", "latency_ms", "macs", "params", "max_abs_diff"):
        table.add_column(c)
    for r in rows:
        table.add_row(r["model"], f"{r['accuracy']:.2f}", f"{r['onnx_accuracy']:.2f}", f"{r['latency_ms']:.4f}",
                      str(r["macs"]), str(r["params"]), f"{r['max_abs_diff']:.2e}")
    console.print(table)
    console.print(f"done in {time.perf_counter() - t_start:.1f}s")
    return 0


def _searched_quality(cfg: PipelineConfig) -> str:
    """The quality metric(s) the search chose on, as front.csv names them (e.g. ``val_accuracy``)."""
    from hwnas.evaluators.supernet import SupernetEvaluator

    names = [o.metric for o in cfg.objectives() if o.metric in SupernetEvaluator.metrics] or ["accuracy"]
    return " and ".join(f"{cfg.evaluation.split}_{m}" for m in names)


def export_front(cfg: PipelineConfig, space: TrainableSpace, data, quality, front, out: Path,
                 console: Console) -> list[dict]:
    """Extract, export and check every front member; write ``front.csv``; return its rows."""
    from hwnas.export.onnx import export_onnx, onnx_accuracy
    from hwnas.supernet.calibrate import accuracy

    models = out / "models"
    models.mkdir(exist_ok=True)
    rows = []
    x_test, y_test = data.split("test")
    with_soft = all("soft_accuracy" in t.metrics for t in front)  # trials recorded before it existed lack it
    for i, t in enumerate(front):
        module = quality.extract(t.arch)
        acc = accuracy(module, x_test, y_test)
        layers = space.layers(t.arch)
        name = f"{i:02d}_{hashlib.sha256(t.key.encode()).hexdigest()[:10]}.onnx"
        row = {"arch": space.format(t.arch), "accuracy": round(acc, 4), "latency_ms": t.metrics["latency_ms"],
               "macs": int(t.metrics.get("macs", sum(lay.macs for lay in layers))),
               "params": int(t.metrics.get("params", sum(lay.params for lay in layers))),
               "model": f"models/{name}", f"{cfg.evaluation.split}_accuracy": t.metrics["accuracy"]}
        if with_soft:
            row[f"{cfg.evaluation.split}_soft_accuracy"] = t.metrics["soft_accuracy"]
        if cfg.export.onnx:
            res = export_onnx(module, (1, *space.input_shape), models / name, tolerance=cfg.export.tolerance)
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
    (out / "front.json").write_text(json.dumps({"space": space.describe(), "rows": rows}, indent=1))
    return rows


def main(argv: list[str] | None = None) -> int:
    """``python -m hwnas.app.train_once --config FILE --out DIR`` (same as ``hwnas search``)."""
    from hwnas.core.errors import HwnasError

    p = argparse.ArgumentParser(prog="hwnas-supernet", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", required=True, type=Path)
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)
    try:
        return run_search(args.config, args.out)
    except HwnasError as e:
        print(f"hwnas search: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
