"""Learned latency/energy predictors of a measurement table (``hwnas predictor``): fit and save one, or score one."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from hwnas.core.errors import ConfigError


def fit_predictor(table_path: str | Path, target: str, out: str | Path, *, space: str = "nb201",
                  arch_column: str = "arch", train_size: int | None = None, seed: int = 0, members: int = 8,
                  view: str = "auto", representative: str = "auto", transfer_from: str | None = None):
    """Fit a predictor of column ``target`` on every row (or ``train_size`` random rows) and save it to ``out``.

    With ``transfer_from``, that source column is fitted on every row first and adapted to ``target``
    with the chosen rows. Returns the predictor and the path it was saved to.
    """
    from hwnas.costs.latency.evaluation import load_table, split
    from hwnas.costs.latency.predictor import LatencyPredictor
    from hwnas.costs.latency.transfer import adapt

    table = load_table(table_path, space=space, arch_column=arch_column)
    y = table.column(target)
    rows = np.arange(len(y))
    if train_size is not None and train_size < len(y):
        rows = split(len(y), train_size, seed)[0]
    if transfer_from:
        if transfer_from == target:
            raise ConfigError(f"--transfer-from {transfer_from!r} is the target column itself")
        source = LatencyPredictor(space=table.space, target=transfer_from, members=members,
                                  view=view, representative=representative)
        source.fit(table.genes, table.column(transfer_from), catalog=table.catalog)
        pred = adapt(source, table.genes[rows], y[rows], target=target, seed=seed, catalog=table.catalog)
    else:
        pred = LatencyPredictor(space=table.space, target=target, members=members, seed=seed,
                                view=view, representative=representative)
        pred.fit(table.genes[rows], y[rows], catalog=table.catalog)
    pred.provenance.update({"table": str(table_path), "rows": len(rows), "seed": seed})
    return pred, pred.save(out), len(rows)


def score_predictor(table_path: str | Path, target: str, train_size: int, *, seeds: int = 10,
                    space: str = "nb201", arch_column: str = "arch", members: int = 8, view: str = "auto",
                    representative: str = "auto", transfer_from: str | None = None,
                    transfer_size: int | None = None, json_out: str | Path | None = None) -> dict:
    """Fit on ``train_size`` random rows per seed and score the rest (Kendall tau, share within 10 %)."""
    from hwnas.costs.latency.evaluation import evaluate, load_table

    if transfer_size is not None and not transfer_from:
        raise ConfigError("--transfer-size needs --transfer-from")
    table = load_table(table_path, space=space, arch_column=arch_column)
    result = evaluate(table, target, train_size, seeds=seeds, transfer_from=transfer_from,
                      transfer_size=transfer_size, members=members, view=view, representative=representative)
    if json_out:
        path = Path(json_out)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=1))
    return result
