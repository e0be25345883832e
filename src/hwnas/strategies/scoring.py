"""The benchmark score of a search on a table of measurements.

Convention (``benchdata/README.md``): the hypervolume of the non-dominated set
of the architectures a search evaluated, divided by the hypervolume of the
true Pareto front of the whole table, both with every objective turned into
one to minimise (``100 - accuracy`` and ``-accuracy`` give the same ratio)
and the reference point at the median of each objective over all rows;
points outside the reference box count nothing. The score is recomputed from
architecture strings alone, so anyone can check a published run.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from hwnas.core.errors import DataError
from hwnas.core.objectives import Objective
from hwnas.core.pareto import hypervolume, nondominated_mask
from hwnas.spaces.base import ChoiceSpace


class TableScorer:
    """Hypervolume ratio of sets of architectures of one table, for fixed objectives."""

    def __init__(
        self,
        frame: pd.DataFrame,
        objectives: Sequence[Objective],
        arch_column: str = "arch",
        space: ChoiceSpace | None = None,
    ):
        if not objectives:
            raise DataError("scoring needs at least one objective")
        if arch_column not in frame.columns:
            raise DataError(f"scoring: no architecture column {arch_column!r}; columns are {list(frame.columns)}")
        for o in objectives:
            if o.metric not in frame.columns:
                raise DataError(f"scoring: unknown column {o.metric!r}; columns are {list(frame.columns)}")
            if not pd.api.types.is_numeric_dtype(frame[o.metric]):
                raise DataError(f"scoring: column {o.metric!r} is not numeric")
        self.objectives = list(objectives)
        self.space = space
        self.F = np.stack([o.sign * frame[o.metric].to_numpy(dtype=float) for o in self.objectives], axis=1)
        finite = np.isfinite(self.F).all(axis=1)
        if not finite.any():
            raise DataError("scoring: no row has finite values in every objective column")
        self.ref = np.median(self.F[finite], axis=0)
        front = self.F[finite][nondominated_mask(self.F[finite])]
        self.true_hv = hypervolume(front, self.ref)
        if self.true_hv <= 0:
            raise DataError("scoring: the true front dominates nothing below the median reference point")
        self.true_front = front
        self._row: dict[str, int] = {}
        for i, text in enumerate(frame[arch_column].astype(str).tolist()):
            self._row.setdefault(text, i)
        self._canon_row: dict[str, int] | None = None

    def _canonical_rows(self) -> dict[str, int]:
        if self._canon_row is None:
            self._canon_row = {}
            for text, i in self._row.items():
                try:
                    self._canon_row.setdefault(self.space.key(text), i)
                except ValueError:
                    continue
        return self._canon_row

    def row_of(self, arch: str) -> int:
        """Row of an architecture string (exact, else an equivalent one when a space is given)."""
        row = self._row.get(arch)
        if row is None and self.space is not None:
            row = self._canonical_rows().get(self.space.key(arch))
        if row is None:
            raise DataError(f"scoring: architecture {arch!r} is not in the table")
        return row

    def ratio(self, archs: Iterable[str]) -> float:
        """Hypervolume ratio of the architectures ``archs`` (order and repeats do not matter)."""
        rows = sorted({self.row_of(a) for a in archs})
        if not rows:
            return 0.0
        return hypervolume(self.F[rows], self.ref) / self.true_hv

    def ratios_at(self, archs: Sequence[str], checkpoints: Sequence[int]) -> dict[int, float]:
        """Ratio after the first N evaluations, for each N in ``checkpoints`` (N beyond the list: all of it)."""
        return {int(n): self.ratio(archs[: int(n)]) for n in checkpoints}


def hypervolume_ratio_of_archs(
    frame: pd.DataFrame, objectives: Sequence[Objective], archs: Iterable[str], arch_column: str = "arch"
) -> float:
    """One-shot form of :meth:`TableScorer.ratio`."""
    return TableScorer(frame, objectives, arch_column).ratio(archs)
