"""Networks of K stages, each stage its own NAS-Bench-201 cell (15,625^K architectures).

An architecture is K NB201 cells, one per stage; its genes are the K cells' gene rows side by
side (dimension ``s<i>_edge_<j>_<k>`` is edge ``j -> k`` of stage ``i``, stages counted from 1).
Its text form is the K NB201 strings joined by ``;``. Everything a stage knows (canonical and
function form, features, quality and executed-work views, measurement classes) is asked of
:class:`~hwnas.spaces.nb201.NB201Space` stage by stage: features and views are the stages'
blocks side by side, a measurement key is the tuple of the stages' keys (read as one integer).

The space cannot be enumerated for K >= 2 (K = 3: 3.8 x 10^12 architectures), so strategies
search it as they search any large space.
"""

from __future__ import annotations

import numpy as np

from hwnas.core.errors import ConfigError, InvalidArchitecture
from hwnas.spaces.base import ChoiceSpace, Dimension
from hwnas.spaces.nb201 import NB201Space
from hwnas.spaces.views import FeatureBlock

SEPARATOR = ";"
_INT64_MAX = np.iinfo(np.int64).max


class NB201StagesSpace(ChoiceSpace):
    """K NB201 cells, one per stage (``stages`` = K >= 1).

    Implements :class:`~hwnas.spaces.protocols.QualityViews` and
    :class:`~hwnas.spaces.protocols.ExecutedWorkViews` stage-wise, with the NB201 space's views, and
    :class:`~hwnas.spaces.protocols.BlockProduct` (its blocks: the K stages' NB201 space).
    """

    name = "nb201_stages"

    def __init__(self, stages: int = 3) -> None:
        if isinstance(stages, bool) or not isinstance(stages, (int, np.integer)) or stages < 1:
            raise ConfigError(f"nb201_stages: stages must be an integer >= 1, got {stages!r}")
        self.stages = int(stages)
        self.cell = NB201Space()
        self.width = len(self.cell.dimensions)
        self.cells = self.cell.size  # NB201 cells per stage (5^6)
        super().__init__([Dimension(f"s{s}_{d.name}", d.choices)
                          for s in range(1, self.stages + 1) for d in self.cell.dimensions])
        self.quality_views = tuple(self.cell.quality_views)
        self._cell_names = tuple(d.name for d in self.cell.dimensions)
        self._stage_names = tuple(tuple(f"s{s}_{n}" for n in self._cell_names) for s in range(1, self.stages + 1))
        self._cell_texts: dict[tuple, str] = {}  # at most one entry per NB201 cell
        self._tables: dict[str, np.ndarray] = {}  # per-cell results over every NB201 cell (see _cell_table)
        self._work_names: dict[str, tuple] = {}  # executed-work view -> the stages' column names and groups
        self.executed_views = tuple(self.cell.executed_views)
        self.blocks = (self.cell,) * self.stages

    def describe(self) -> dict:
        return {"name": self.name, "stages": self.stages, "cell": self.cell.describe()}

    # ------------------------------------------------------------------ stage helpers
    def _split(self, genes: np.ndarray) -> np.ndarray:
        """Gene rows (n, 6K) as stage rows (n, K, 6)."""
        genes = np.atleast_2d(np.asarray(genes, dtype=np.int64))
        if genes.shape[1] != self.stages * self.width:
            raise InvalidArchitecture(f"expected {self.stages * self.width} genes per row, got {genes.shape[1]}")
        return genes.reshape(len(genes), self.stages, self.width)

    def _cell_table(self, key: str, fn) -> np.ndarray:
        """``fn`` (NB201 gene rows -> one row each) over all 15,625 NB201 cells, computed once, row = gene code.

        A strategy encodes a few dozen networks at a time, thousands of times per search: a lookup in
        a table of every cell costs a fraction of a call on the cells."""
        table = self._tables.get(key)
        if table is None:
            every = self.cell.enumerate_genes(self.cells)
            values = np.asarray(fn(every))
            table = np.empty_like(values)
            table[self.cell.gene_codes(every)] = values
            self._tables[key] = table
        return table

    def _per_cell(self, key: str, fn, genes: np.ndarray) -> np.ndarray:
        """``fn`` (NB201 gene rows -> one row each) of every stage's cell, the stages' rows side by side."""
        stages = self._split(genes)
        codes = self.cell.gene_codes(stages.reshape(-1, self.width))
        return self._cell_table(key, fn)[codes].reshape(len(stages), -1)

    def stage_genes(self, genes: np.ndarray, stage: int) -> np.ndarray:
        """The NB201 gene rows of stage ``stage`` (0-based) of each row."""
        return self._split(genes)[:, stage, :]

    def _combine_keys(self, keys: np.ndarray) -> np.ndarray:
        """Per-stage integer keys (n, K), each in 0 .. cells - 1, read as one integer per row (the tuple)."""
        if self.cells ** self.stages - 1 <= _INT64_MAX:
            weights = self.cells ** np.arange(self.stages - 1, -1, -1, dtype=np.int64)
            return keys.astype(np.int64) @ weights
        out = np.empty(len(keys), dtype=object)
        for i, row in enumerate(keys.tolist()):
            value = 0
            for k in row:
                value = value * self.cells + int(k)
            out[i] = value
        return out

    # ------------------------------------------------------------------ text form
    def parse(self, text: str) -> dict:
        if not isinstance(text, str):
            raise InvalidArchitecture(f"an {self.name} architecture is text, got {type(text).__name__}")
        parts = text.strip().split(SEPARATOR)
        if len(parts) != self.stages:
            raise InvalidArchitecture(
                f"{self.name} architecture {text!r} must hold {self.stages} NB201 strings joined by "
                f"{SEPARATOR!r}, found {len(parts)}")
        arch = {}
        for s, part in enumerate(parts, start=1):
            try:
                sub = self.cell.parse(part)
            except InvalidArchitecture as e:
                raise InvalidArchitecture(f"stage {s} of {self.stages}: {e}") from None
            arch.update({f"s{s}_{k}": v for k, v in sub.items()})
        return arch

    def format(self, arch) -> str:
        """The K NB201 strings joined by ``;`` (each cell's string asked of the NB201 space once, then kept:
        strategies format every candidate they consider)."""
        a = self.validate(arch)
        out = []
        for names in self._stage_names:
            ops = tuple(a[n] for n in names)
            text = self._cell_texts.get(ops)
            if text is None:
                text = self._cell_texts[ops] = self.cell.format(dict(zip(self._cell_names, ops)))
            out.append(text)
        return SEPARATOR.join(out)

    # ------------------------------------------------------------------ identity and equivalence
    def gene_codes(self, genes: np.ndarray) -> np.ndarray:
        """One integer per row: the stages' NB201 gene codes read as one number (Python ints past int64)."""
        stages = self._split(genes)
        codes = self.cell.gene_codes(stages.reshape(-1, self.width)).reshape(len(stages), self.stages)
        return self._combine_keys(codes)

    def canonical(self, arch) -> dict:
        return self.from_genes(self.canonical_genes(self.to_genes(arch))[0])

    def canonical_genes(self, genes: np.ndarray) -> np.ndarray:
        """Every stage's cell in its canonical (executed) form."""
        return self._per_cell("canonical", self.cell.canonical_genes, genes)

    def live_genes(self, genes: np.ndarray) -> np.ndarray:
        """Every stage's cell reduced to its fully live edges."""
        return self._per_cell("live", self.cell.live_genes, genes)

    def function_genes(self, genes: np.ndarray) -> np.ndarray:
        """Every stage's cell reduced to what determines its outputs (the NB201 function form)."""
        return self._per_cell("function", self.cell.function_genes, genes)

    # ------------------------------------------------------------------ encodings
    def features(self, genes: np.ndarray) -> np.ndarray:
        """The stages' NB201 features side by side."""
        return self._per_cell("features", self.cell.features, genes)

    def quality_features(self, name: str, genes: np.ndarray) -> np.ndarray:
        if name not in self.quality_views:
            raise ValueError(f"quality view {name!r} unknown; allowed {list(self.quality_views)}")
        # counts of operation pairs: exact in float32, half the table
        return self._per_cell(f"quality:{name}",
                              lambda g: np.asarray(self.cell.quality_features(name, g), dtype=np.float32), genes)

    def executed_work(self, genes: np.ndarray, view: str) -> FeatureBlock:
        """The stages' executed-work blocks side by side; column names carry the stage (``s1:n_nor_conv_3x3``)."""
        if view not in self._work_names:  # column names and groups: the same for every row, asked once
            one = self.cell.executed_work(self._split(genes)[:1, 0, :], view)
            self._work_names[view] = (tuple(f"s{s}:{n}" for s in range(1, self.stages + 1) for n in one.names),
                                      tuple(one.groups) * self.stages)
        matrix = self._per_cell(f"executed:{view}", lambda g: self.cell.executed_work(g, view).matrix, genes)
        return FeatureBlock(matrix, *self._work_names[view])

    def _stage_keys(self, genes: np.ndarray, fn) -> np.ndarray:
        stages = self._split(genes)
        return self._combine_keys(np.stack([np.asarray(fn(stages[:, s, :])) for s in range(self.stages)], axis=1))

    def measurement_keys(self, genes: np.ndarray, view: str, representative: str) -> np.ndarray:
        """The tuple of the stages' NB201 measurement keys, as one integer."""
        return self._stage_keys(genes, lambda g: self.cell.measurement_keys(g, view, representative))

    def measurement_classes(self, genes: np.ndarray) -> np.ndarray:
        """The tuple of the stages' NB201 measurement classes, as one integer."""
        return self._stage_keys(genes, self.cell.measurement_classes)

    def listed_representatives(self, catalog: np.ndarray) -> dict[int, int]:
        """Per stage, the NB201 first-listed representatives of the catalog's cells of that stage, keyed by
        ``stage * 5^6 + class`` (a stage's cells listed in the catalog's row order)."""
        stages = self._split(catalog)
        reps: dict[int, int] = {}
        for s in range(self.stages):
            for key, code in self.cell.listed_representatives(stages[:, s, :]).items():
                reps[s * self.cells + int(key)] = int(code)
        return reps

    def apply_representatives(self, genes: np.ndarray, reps: dict[int, int]) -> np.ndarray:
        """Each stage's cell replaced by its stage's class representative (see :meth:`listed_representatives`)."""
        stages = self._split(genes).copy()
        for s in range(self.stages):
            mine = {k - s * self.cells: v for k, v in reps.items() if s * self.cells <= k < (s + 1) * self.cells}
            stages[:, s, :] = self.cell.apply_representatives(stages[:, s, :], mine)
        return stages.reshape(len(stages), -1)
