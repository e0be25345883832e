"""The post-search pruning step of the train-once job (``compress: {prune: {ratio, members, epochs}}``).

After the front is exported, each chosen front member (``members``: ``all`` or indices into
``front.csv``'s rows) is extracted with its inherited weights, ``ratio`` of its channels removed
(:mod:`hwnas.compress.prune`, torch-pruning's dependency graph) and fine-tuned ``epochs`` epochs;
its latency is measured again with the project's timer (ONNX Runtime, batch 1) and its accuracy
on the searched split and the test split, and it is exported to ``models/`` and added to
``front.csv`` / ``front.json`` as a row of its own with ``pruned`` = the ratio (0 for the searched
members). A pruned network is no longer a sub-network of the supernet, so it is not a trial of the
study: the study stays what the search evaluated.
"""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

from rich.console import Console

from hwnas.app.schema import Config
from hwnas.core.errors import ConfigError


def chosen_members(members, n: int) -> list[int]:
    """Row indices of ``members`` (``"all"`` or a list of indices), each checked against the ``n`` rows."""
    if members == "all":
        return list(range(n))
    bad = [i for i in members if not 0 <= i < n]
    if bad:
        raise ConfigError(f"compress.prune.members: {bad} outside the front's rows 0..{n - 1}")
    return list(dict.fromkeys(members))


def prune_front(cfg: Config, space, data, quality, front, rows: list[dict], out: Path, console: Console) -> list[dict]:
    """Prune, fine-tune, re-measure and export the chosen members; rewrite ``front.csv`` / ``front.json`` with
    their rows added; return every row."""
    from hwnas.compress.prune import ChannelPruning
    from hwnas.costs.measure import default_cache_path
    from hwnas.costs.measure.cache import LatencyCache
    from hwnas.costs.measure.model import measure_latency
    from hwnas.export.onnx import export_onnx, onnx_accuracy
    from hwnas.spaces.trace import trace_layers
    from hwnas.supernet.calibrate import accuracy

    p = cfg.compress.prune
    step = ChannelPruning(ratio=p.ratio, epochs=p.epochs, lr=p.lr, seed=cfg.study.seed, round_to=p.round_to)
    split = str(cfg.evaluator.options.get("split", "val")) if cfg.evaluator is not None else "val"
    x_test, y_test = data.split("test")
    shape = (1, *space.input_shape)
    cache = LatencyCache(default_cache_path())
    added = []
    for i in chosen_members(p.members, len(rows)):
        t, row = front[i], rows[i]
        module = quality.extract(t.arch)
        pruned = step.apply(module, data).model
        layers = trace_layers(pruned, shape)
        new = dict(row)
        new.update(accuracy=round(accuracy(pruned, x_test, y_test), 4),
                   latency_ms=measure_latency(pruned, shape, repeats=p.repeats, cache=cache).latency_ms,
                   macs=sum(lay.macs for lay in layers), params=sum(lay.params for lay in layers), pruned=p.ratio)
        new[f"{split}_accuracy"] = accuracy(pruned, *data.split(split))
        new.pop(f"{split}_soft_accuracy", None)
        for k in ("bits", "size_kb", "onnx_kb", "note"):  # the pruned model is exported in fp32
            new.pop(k, None)
        if cfg.export.onnx:
            name = f"{i:02d}_pruned{int(round(p.ratio * 100))}_{hashlib.sha256(t.key.encode()).hexdigest()[:10]}.onnx"
            res = export_onnx(pruned, shape, out / "models" / name, tolerance=cfg.export.tolerance)
            new.update(model=f"models/{name}", onnx_accuracy=round(onnx_accuracy(res.path, x_test, y_test), 4),
                       max_abs_diff=res.max_abs_diff)
        else:
            new["model"] = ""
        console.print(f"prune member {i} by {p.ratio:.0%} of its channels: latency {row['latency_ms']:.4f} -> "
                      f"{new['latency_ms']:.4f} ms, test accuracy {row['accuracy']:.2f} -> {new['accuracy']:.2f}%")
        added.append(new)
    for r in rows:
        r.setdefault("pruned", 0.0)
    every = rows + added
    columns = list(dict.fromkeys(k for r in every for k in r))
    with open(out / "front.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns, restval="")
        w.writeheader()
        w.writerows(every)
    info = json.loads((out / "front.json").read_text())
    info["rows"] = every
    info["pruned"] = step.describe()
    (out / "front.json").write_text(json.dumps(info, indent=1))
    return every
