"""Fit and score latency predictors on a measurement table (``arch`` column + numeric target columns).

The protocol of the predictor bars: fit on N random rows, evaluate on all the
other rows, repeat over seeds; scores are Kendall's tau and the share of
predictions within +-10 % of the measurement. With a transfer source column,
a predictor is first fitted on every row of the source column, then adapted to
the target column with M random target rows and scored on the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import kendalltau

from hwnas.core.errors import DataError, InvalidArchitecture
from hwnas.costs.latency.predictor import LatencyPredictor, make_space
from hwnas.costs.latency.transfer import adapt
from hwnas.evaluators.table import read_table


@dataclass
class MeasurementTable:
    """Parsed architectures (as genes) and numeric columns of a table."""

    source: str
    genes: np.ndarray
    frame: pd.DataFrame
    space_name: str

    @property
    def catalog(self) -> np.ndarray:
        """Every architecture of the table in its listed order: by the ``index`` column when there is
        one (NB201 tables: the benchmark's architecture index), else by row. Targets are not used."""
        if "index" in self.frame.columns:
            index = pd.to_numeric(self.frame["index"], errors="coerce").to_numpy(dtype=float)
            if np.all(np.isfinite(index)):
                return self.genes[np.argsort(index, kind="stable")]
        return self.genes

    def column(self, name: str) -> np.ndarray:
        """A numeric column; errors name the column or the first bad row."""
        if name not in self.frame.columns:
            numeric = [c for c in self.frame.columns if pd.api.types.is_numeric_dtype(self.frame[c])]
            raise DataError(f"table {self.source}: no column {name!r}; numeric columns are {numeric}")
        values = pd.to_numeric(self.frame[name], errors="coerce").to_numpy(dtype=float)
        bad = np.flatnonzero(~np.isfinite(values))
        if len(bad):
            row = int(bad[0])
            raise DataError(
                f"table {self.source}: column {name!r} must hold finite numbers, but row {row + 1} "
                f"(line {row + 2}) holds {self.frame[name].iloc[row]!r}"
            )
        return values


def load_table(path: str | Path | pd.DataFrame, space: str = "nb201", arch_column: str = "arch") -> MeasurementTable:
    """Read a CSV/Parquet table and parse its architecture column with the space (errors name the row)."""
    source = "<dataframe>" if isinstance(path, pd.DataFrame) else str(path)
    frame = path.reset_index(drop=True) if isinstance(path, pd.DataFrame) else read_table(path)
    sp = make_space(space)
    if arch_column not in frame.columns:
        raise DataError(f"table {source}: no architecture column {arch_column!r}; columns are {list(frame.columns)}")
    if len(frame) == 0:
        raise DataError(f"table {source}: no rows")
    genes = []
    for i, text in enumerate(frame[arch_column].tolist()):
        try:
            genes.append(sp.to_genes(text))
        except InvalidArchitecture as e:
            raise DataError(f"table {source}: row {i + 1} (line {i + 2}), column {arch_column!r}: {e}") from None
    return MeasurementTable(source, np.stack(genes), frame, space)


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
    table: MeasurementTable,
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
        source = LatencyPredictor(space=table.space_name, target=transfer_from, members=members, view=view,
                                  representative=representative)
        source.fit(table.genes, ys, catalog=table.catalog)
        train_size = transfer_size if transfer_size is not None else train_size
    out: dict[str, list] = {"kendall_tau": [], "within_10pct": [], "seeds": [], "views": []}
    for seed in range(seeds):
        train, test = split(len(y), train_size, seed)
        if source is None:
            pred = LatencyPredictor(space=table.space_name, target=target, members=members, seed=seed, view=view,
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
