"""Tabular evaluator: look up an architecture's metrics in a CSV or Parquet file.

Any file with an architecture column (text form of the space, e.g. NB201
strings) and numeric columns works; objectives pick columns by name, so a new
device, runtime or task is a new column and no code.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from hwnas.core.errors import DataError, EvaluationFailed
from hwnas.evaluators.base import COST, Evaluator, MetricKind, kind_from_name
from hwnas.spaces.base import ChoiceSpace
from hwnas.spaces.table import load_arch_table


class TableEvaluator(Evaluator):
    """Metrics looked up by architecture in a table.

    ``columns`` are the metrics to return (objectives and constraints); each
    must exist and be numeric. Every architecture string is parsed up front, so
    a malformed row is reported at load time with its line number. A NaN in a
    requested column makes that architecture's evaluation fail (recorded, the
    search goes on). An architecture missing from the table is looked up by its
    canonical form; if no equivalent row exists, the evaluation fails.

    Metric kinds come from the column names (:func:`~hwnas.evaluators.base.kind_from_name`: a unit
    suffix such as ``_ms`` or ``_mj``, or a cost word such as ``latency``, makes a cost), unless
    ``kinds`` names a column's kind (``"quality"`` or ``"cost"``) explicitly.
    """

    def __init__(
        self,
        source: str | Path | pd.DataFrame,
        space: ChoiceSpace,
        columns: Sequence[str] | None = None,
        arch_column: str = "arch",
        kinds: Mapping[str, str] | None = None,
    ):
        table = load_arch_table(source, space, arch_column, columns)
        self.source = table.source
        frame = table.frame
        # identify the data by content, not by path: a moved file is the same study, an edited one is not
        self.digest = hashlib.sha256(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes()).hexdigest()
        self.space = space
        self.arch_column = arch_column
        columns = table.numeric_columns if columns is None else columns
        self.metrics = tuple(columns)
        self._kinds = {c: kind_from_name(c) for c in self.metrics}
        for c, kind in (kinds or {}).items():
            if c not in self.metrics:
                raise DataError(f"table {self.source}: kinds names column {c!r}, which is not a metric; "
                                f"metrics are {list(self.metrics)}")
            self._kinds[c] = MetricKind(kind, kind_from_name(c).unit if kind == COST else "")
        self.frame = frame
        self._texts = frame[arch_column].tolist()
        self._values = frame[list(columns)].to_numpy(dtype=float)
        self._exact: dict[str, int] = {}
        self._canon: dict[str, int] = {}
        self.genes = table.genes
        canon = space.canonical_genes(self.genes) if len(self.genes) else self.genes
        for i, (g, c) in enumerate(zip(self.genes, canon)):
            self._exact.setdefault(space.format(space.from_genes(g)), i)
            self._canon.setdefault(space.format(space.from_genes(c)), i)

    def row_of(self, arch) -> int | None:
        """Row index holding ``arch`` (exactly, else an equivalent architecture), or None."""
        text = self.space.format(arch)
        row = self._exact.get(text)
        if row is None:
            row = self._canon.get(self.space.key(arch))
        return row

    def spelling(self, arch) -> str:
        """``arch`` as the table writes it: the architecture text of the row that answers for it (the
        canonical text form stays the study's key; outputs show the user's own spelling), or the space's
        text form when no row holds it."""
        row = self.row_of(arch)
        return self.space.format(arch) if row is None else str(self._texts[row])

    def metric_kinds(self) -> dict[str, MetricKind]:
        return dict(self._kinds)

    def catalog(self):
        """Gene rows of the table, in row order."""
        return self.genes

    def evaluate(self, arch) -> dict[str, float]:
        row = self.row_of(arch)
        if row is None:
            raise EvaluationFailed(f"architecture {self.space.format(arch)} is not in table {self.source}")
        values = self._values[row]
        for c, v in zip(self.metrics, values):
            if not math.isfinite(v):
                raise EvaluationFailed(f"table {self.source}: row {row + 1} (line {row + 2}), column {c!r} is {v}")
        return dict(zip(self.metrics, values.tolist()))

    def describe(self) -> dict:
        return {"type": "table", "sha256": self.digest[:16], "arch_column": self.arch_column,
                "columns": list(self.metrics)}
