"""Measurement tables: a CSV or Parquet file of architectures (one column, the space's text form) and numbers.

The one loader for every consumer of such tables (the table evaluator, the
latency predictor's fit / eval / transfer, the CLI and the benchmarks): it
reads the file, checks the architecture column and the requested numeric
columns, and parses every architecture with the space up front, so a bad row
is reported with its row and line number.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from hwnas.core.errors import DataError, InvalidArchitecture
from hwnas.spaces.base import ChoiceSpace

_READERS = {".csv": pd.read_csv, ".parquet": pd.read_parquet, ".pq": pd.read_parquet}


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV or Parquet file, with errors that name the file."""
    path = Path(path)
    reader = _READERS.get(path.suffix.lower())
    if reader is None:
        raise DataError(f"table {path}: unsupported file type {path.suffix!r}; use one of {sorted(_READERS)}")
    if not path.exists():
        raise DataError(f"table {path}: file not found")
    try:
        return reader(path)
    except Exception as e:  # pandas/pyarrow raise many types
        raise DataError(f"table {path}: cannot read it: {e}") from None


@dataclass
class ArchTable:
    """A table whose architecture column is parsed: ``genes[i]`` is row ``i``'s architecture."""

    source: str
    frame: pd.DataFrame
    space: ChoiceSpace
    arch_column: str
    genes: np.ndarray

    @property
    def space_name(self) -> str:
        return self.space.name

    @property
    def numeric_columns(self) -> list[str]:
        """Columns other than the architecture column with a numeric type."""
        return [c for c in self.frame.columns
                if c != self.arch_column and pd.api.types.is_numeric_dtype(self.frame[c])]

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
        """A column of finite numbers; errors name the column or the first bad row."""
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


def _check_numeric(frame: pd.DataFrame, source: str, columns: Sequence[str], numeric: list[str]) -> None:
    for c in columns:
        if c not in frame.columns:
            raise DataError(f"table {source}: unknown column {c!r}; numeric columns are {numeric}")
        if c not in numeric:
            coerced = pd.to_numeric(frame[c], errors="coerce")
            bad = frame[c].notna() & coerced.isna()
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise DataError(
                f"table {source}: column {c!r} must be numeric, but row {row + 1} "
                f"(line {row + 2}) holds {frame[c].iloc[row]!r}"
            )


def load_arch_table(
    source: str | Path | pd.DataFrame,
    space: ChoiceSpace,
    arch_column: str = "arch",
    columns: Sequence[str] | None = None,
) -> ArchTable:
    """Read ``source`` (a CSV/Parquet path, or a frame, copied) and parse its architecture column.

    ``columns``: columns that must exist with a numeric type (missing values allowed),
    checked before the architectures are parsed. Errors name the table, the column
    and, for a bad value, its row and line.
    """
    name = "<dataframe>" if isinstance(source, pd.DataFrame) else str(source)
    frame = source.copy() if isinstance(source, pd.DataFrame) else read_table(source)
    if arch_column not in frame.columns:
        raise DataError(f"table {name}: no architecture column {arch_column!r}; columns are {list(frame.columns)}")
    table = ArchTable(name, frame, space, arch_column, np.zeros((0, len(space.dimensions)), dtype=np.int64))
    if columns is not None:
        _check_numeric(frame, name, columns, table.numeric_columns)
    genes = []
    for i, text in enumerate(frame[arch_column].tolist()):
        try:
            genes.append(space.to_genes(text))
        except InvalidArchitecture as e:
            raise DataError(f"table {name}: row {i + 1} (line {i + 2}), column {arch_column!r}: {e}") from None
    if genes:
        table.genes = np.stack(genes)
    return table
