"""Fit and score latency predictors on a measurement table (``arch`` column + numeric target columns).

The protocol of the predictor bars: fit on N random rows, evaluate on all the
other rows, repeat over seeds; scores are Kendall's tau and the share of
predictions within +-10 % of the measurement. With a transfer source column,
a predictor is first fitted on every row of the source column, then adapted to
the target column with M random target rows and scored on the rest.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import kendalltau

from hwnas.core.errors import DataError
from hwnas.costs.latency.predictor import LatencyPredictor, make_space
from hwnas.costs.latency.transfer import adapt
from hwnas.spaces.base import ChoiceSpace
from hwnas.spaces.table import ArchTable, load_arch_table


def load_table(path: str | Path | pd.DataFrame, space: str | ChoiceSpace = "nb201",
               arch_column: str = "arch") -> ArchTable:
    """Read a CSV/Parquet table (or a frame) and parse its architecture column with the space (errors name
    the row); a table without rows is refused."""
    source = path.reset_index(drop=True) if isinstance(path, pd.DataFrame) else path
    table = load_arch_table(source, make_space(space), arch_column)
    if len(table.frame) == 0:
        raise DataError(f"table {table.source}: no rows")
    return table


def within(pred: np.ndarray, y: np.ndarray, tol: float = 0.10) -> float:
    """Share of predictions within +-tol of the measurement (relative)."""
    return float(np.mean(np.abs(pred - y) <= tol * np.abs(y)))


def score(pred: np.ndarray, y: np.ndarray) -> dict[str, float]:
    tau = kendalltau(pred, y).statistic
    return {"kendall_tau": float(tau), "within_10pct": within(pred, y)}


def split(n_rows: int, train_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    if not 2 <= train_size < n_rows:
        raise DataError(f"train size {train_size} must be at least 2 and below the table's {n_rows} rows")
    perm = np.random.default_rng(seed).permutation(n_rows)
    return perm[:train_size], perm[train_size:]


def evaluate(
    table: ArchTable,
    target: str,
    train_size: int,
    seeds: int = 10,
    transfer_from: str | None = None,
    transfer_size: int | None = None,
    members: int = 8,
    view: str = "auto",
    representative: str = "auto",
) -> dict[str, list[float]]:
    """Scores per seed: ``{"kendall_tau": [...], "within_10pct": [...]}`` (plus ``"seeds"``).

    Without ``transfer_from``: fit on ``train_size`` random rows, score on the rest.
    With it: fit on every row of ``transfer_from``, adapt with ``transfer_size``
    (default ``train_size``) random rows of ``target``, score on the rest.
    ``view`` / ``representative``: as for :class:`LatencyPredictor` (default: chosen
    per fit by cross-validation on its training rows); ``"views"`` in the result
    lists the (view, representative) each seed's predictor used, ``"transfer_used"``
    whether each seed kept the source prior (cross-validation may prefer a fit from scratch).
    """
    if seeds < 1:
        raise DataError(f"seeds={seeds} must be at least 1")
    y = table.column(target)
    source = None
    if transfer_from is not None:
        if transfer_from == target:
            raise DataError(f"transfer source column {transfer_from!r} is the target itself")
        ys = table.column(transfer_from)
        source = LatencyPredictor(space=table.space, target=transfer_from, members=members, view=view,
                                  representative=representative)
        source.fit(table.genes, ys, catalog=table.catalog)
        train_size = transfer_size if transfer_size is not None else train_size
    out: dict[str, list] = {"kendall_tau": [], "within_10pct": [], "seeds": [], "views": []}
    for seed in range(seeds):
        train, test = split(len(y), train_size, seed)
        if source is None:
            pred = LatencyPredictor(space=table.space, target=target, members=members, seed=seed, view=view,
                                    representative=representative)
            pred.fit(table.genes[train], y[train], catalog=table.catalog)
        else:
            pred = adapt(source, table.genes[train], y[train], target=target, seed=seed, catalog=table.catalog)
        s = score(pred.predict(table.genes[test]), y[test])
        out["kendall_tau"].append(s["kendall_tau"])
        out["within_10pct"].append(s["within_10pct"])
        out["seeds"].append(seed)
        out["views"].append(f"{pred.view}/{pred.representative}")
        if source is not None:
            out.setdefault("transfer_used", []).append(bool(pred.provenance.get("transfer_used")))
    return out
