"""The product evaluator: metrics of a K-stage network from a table of NB201 cell measurements.

A network of the ``nb201_stages`` space is K NB201 cells, one per stage. A *cost* metric (latency,
energy: what running the network takes) is the **sum** of its K cells' values; a *quality* metric
(accuracy) is the **mean** of its K cells' values. Which metric is which is the evaluator's declared
metric kind (:meth:`~hwnas.evaluators.base.Evaluator.metric_kinds`): the name rule of
:func:`~hwnas.evaluators.base.kind_from_name` read on the metric's source columns (when they agree,
else on the metric's name), or the ``kinds`` option. ``stage_columns`` gives a metric
a different source column per stage (stage 1 timed with ONNX Runtime, stage 2 with LiteRT, ...);
any other metric reads its own column at every stage.

The table is read by the one loader (:mod:`hwnas.spaces.table`) and must hold every NB201 cell the
space can propose, exactly or through an equivalent (canonical) cell; a missing cell is refused at
load time with its name. Every value is looked up once per cell, so an evaluation is K array reads.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from hwnas.core.errors import ConfigError, DataError, EvaluationFailed
from hwnas.evaluators.base import COST, Evaluator, MetricKind, kind_from_name
from hwnas.spaces.table import load_arch_table

__all__ = ["StageTableEvaluator", "stage_table_evaluator"]

SUM, MEAN = "sum", "mean"


def _stage_sources(stage_columns, stages: int) -> dict[str, list[str]]:
    """``stage_columns`` checked: metric -> K column names (a list, or one text of names joined by ``,``)."""
    if stage_columns is None:
        return {}
    if not isinstance(stage_columns, Mapping):
        raise ConfigError(f"stage_columns must map a metric to {stages} column names, got {type(stage_columns).__name__}")
    out = {}
    for metric, cols in stage_columns.items():
        names = [c.strip() for c in cols.split(",")] if isinstance(cols, str) else list(cols)
        if len(names) != stages or not all(isinstance(c, str) and c for c in names):
            raise ConfigError(f"stage_columns[{metric!r}] must name one column per stage ({stages}), got {cols!r}")
        out[str(metric)] = names
    return out


class StageTableEvaluator(Evaluator):
    """Metrics of K-stage networks: per metric, the sum (cost) or mean (quality) of the stages' cell values.

    ``space``: a K-stage space (``nb201_stages``: it has ``stages``, ``cell`` and ``stage_genes``);
    ``source``: a CSV / Parquet path or a frame of NB201 cells (architecture column ``arch_column``);
    ``columns``: the metrics to return (default: every numeric column, plus the ``stage_columns``
    metrics); ``stage_columns``: metric -> one source column per stage; ``kinds``: metric -> ``"quality"``
    or ``"cost"`` where the name rule is not wanted.
    """

    def __init__(
        self,
        source: str | Path | pd.DataFrame,
        space,
        columns: Sequence[str] | None = None,
        stage_columns: Mapping[str, Sequence[str] | str] | None = None,
        arch_column: str = "arch",
        kinds: Mapping[str, str] | None = None,
    ):
        if not all(hasattr(space, a) for a in ("stages", "cell", "stage_genes")):
            raise ConfigError(f"evaluator stage_table needs a space of NB201 stages (nb201_stages), "
                              f"got space {getattr(space, 'name', type(space).__name__)!r}")
        self.space = space
        self.stages = int(space.stages)
        cell = space.cell
        sources = _stage_sources(stage_columns, self.stages)
        frame = load_arch_table(source, cell, arch_column).frame if columns is None else None
        if columns is None:
            numeric = [c for c in frame.columns if c != arch_column and pd.api.types.is_numeric_dtype(frame[c])]
            columns = numeric + [m for m in sources if m not in numeric]
        self.metrics = tuple(columns)
        unused = sorted(set(sources) - set(self.metrics))
        if unused:
            raise ConfigError(f"stage_columns names {unused}, which are not metrics; metrics are {list(self.metrics)}")
        self.sources = {m: sources.get(m, [m] * self.stages) for m in self.metrics}
        needed = list(dict.fromkeys(c for cols in self.sources.values() for c in cols))
        table = load_arch_table(source, cell, arch_column, needed)
        self.source, self.arch_column = table.source, arch_column
        self.digest = hashlib.sha256(
            pd.util.hash_pandas_object(table.frame, index=True).to_numpy().tobytes()).hexdigest()
        rows = self._rows_by_cell(table.genes)
        self._kinds = {m: self._kind_of(m) for m in self.metrics}
        for m, kind in (kinds or {}).items():
            if m not in self.metrics:
                raise DataError(f"table {self.source}: kinds names {m!r}, which is not a metric; "
                                f"metrics are {list(self.metrics)}")
            self._kinds[m] = MetricKind(kind, self._kind_of(m).unit if kind == COST else "")
        #: metric -> (K, cells) values of every NB201 cell (by gene code) at every stage
        self.values = {m: np.stack([pd.to_numeric(table.frame[c], errors="coerce").to_numpy(float)[rows]
                                    for c in self.sources[m]]) for m in self.metrics}

    def _kind_of(self, metric: str) -> MetricKind:
        """The name rule read on the metric's source columns when they agree (``lat`` from three
        ``..._latency_ms`` columns is a cost in ms), else on the metric's own name."""
        found = {kind_from_name(c) for c in self.sources[metric]}
        return found.pop() if len(found) == 1 else kind_from_name(metric)

    def _rows_by_cell(self, genes: np.ndarray) -> np.ndarray:
        """The table row of every NB201 cell (by gene code): its own row, else its canonical cell's first row."""
        cell = self.space.cell
        n = cell.size
        if len(genes) == 0:
            raise DataError(f"table {self.source}: no rows")
        exact = np.full(n, -1, dtype=np.int64)
        canon_row = np.full(n, -1, dtype=np.int64)
        codes = cell.gene_codes(genes)
        canon_codes = cell.gene_codes(cell.canonical_genes(genes))
        order = np.arange(len(genes))[::-1]  # assigned last-to-first, so the first listed row wins
        exact[codes[order]] = order
        canon_row[canon_codes[order]] = order
        every = cell.enumerate_genes(n)  # in gene-code order
        every_canon = cell.gene_codes(cell.canonical_genes(every))
        rows = np.where(exact >= 0, exact, canon_row[every_canon])
        missing = np.unique(every_canon[rows < 0])
        if len(missing):
            names = [cell.format(cell.from_genes(every[c])) for c in missing[:3]]
            raise DataError(
                f"table {self.source}: does not hold every NB201 cell the {self.stages}-stage space needs: "
                f"{len(missing)} cell(s) (canonical form) have no row, neither themselves nor an equivalent cell, "
                f"e.g. {names}")
        return rows

    # ------------------------------------------------------------------ the contract
    def metric_kinds(self) -> dict[str, MetricKind]:
        return dict(self._kinds)

    def combination(self, metric: str) -> str:
        """How the stages' values make the network's: ``"sum"`` for a cost, ``"mean"`` for a quality."""
        return SUM if self._kinds[metric].is_cost else MEAN

    def stage_codes(self, genes: np.ndarray) -> np.ndarray:
        """(n, K) NB201 gene codes of every stage's cell of gene rows."""
        genes = np.atleast_2d(np.asarray(genes, dtype=np.int64))
        return np.stack([self.space.cell.gene_codes(self.space.stage_genes(genes, s))
                         for s in range(self.stages)], axis=1)

    def evaluate_genes(self, genes: np.ndarray) -> dict[str, np.ndarray]:
        """Every metric of gene rows, vectorised (NaN where a cell's value is missing)."""
        codes = self.stage_codes(genes)
        out = {}
        for m in self.metrics:
            per_stage = self.values[m][np.arange(self.stages)[None, :], codes]
            out[m] = per_stage.sum(axis=1) if self.combination(m) == SUM else per_stage.mean(axis=1)
        return out

    def evaluate(self, arch) -> dict[str, float]:
        codes = self.stage_codes(self.space.to_genes(arch))[0]
        out = {}
        for m in self.metrics:
            vals = self.values[m][np.arange(self.stages), codes]
            bad = np.flatnonzero(~np.isfinite(vals))
            if len(bad):
                s = int(bad[0])
                raise EvaluationFailed(f"table {self.source}: column {self.sources[m][s]!r} has no finite value "
                                       f"for the cell of stage {s + 1} ({vals[s]})")
            out[m] = float(vals.sum() if self.combination(m) == SUM else vals.mean())
        return out

    def catalog(self):
        """None: the table's rows are cells, and every K-stage network of them can be evaluated."""
        return None

    def describe(self) -> dict:
        return {"type": "stage_table", "sha256": self.digest[:16], "arch_column": self.arch_column,
                "stages": self.stages, "columns": {m: self.sources[m] for m in self.metrics},
                "kinds": {m: self._kinds[m].kind for m in self.metrics}}


def stage_table_evaluator(path: str, arch_column: str = "arch", stage_columns: Mapping | None = None,
                          kinds: Mapping[str, str] | None = None, *, space, columns=None) -> Evaluator:
    """The ``stage_table`` evaluator: metrics ``columns`` of K-stage networks from the NB201 table ``path``."""
    return StageTableEvaluator(path, space, columns=columns, stage_columns=stage_columns,
                               arch_column=arch_column, kinds=kinds)
