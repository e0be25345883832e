"""Analytical timing of one matrix product on a systolic array, in closed form.

A conv or linear layer is the product of an (M x K) input-patch matrix and a
(K x N) filter matrix (M output pixels, N filters, K = window = channels x kernel
area). A rows x cols array maps two of M, N, K onto its two spatial axes and
streams the third through time; which one streams is the dataflow:

======== ============== ============== ==============
dataflow  S_r (rows)     S_c (cols)     T (time)
======== ============== ============== ==============
``os``    M (pixels)     N (filters)    K (window)
``ws``    K (window)     N (filters)    M (pixels)
``is``    K (window)     M (pixels)     N (filters)
======== ============== ============== ==============

The operand matrix is cut into ``ceil(S_r/rows) x ceil(S_c/cols)`` folds run one
after the other. Each fold costs its T streaming cycles plus the pipeline skew:
output-stationary folds fill across rows and drain across cols
(``T + rows + cols - 2``); weight/input-stationary folds also preload the
stationary tile (``2*rows + cols + T - 2``). These are the fold counts and skews
SCALE-Sim v3 builds its demand matrices from (``systolic_compute_{os,ws,is}.py``),
and SCALE-Sim reports the index of the last cycle, hence the final ``- 1``; with
no memory stalls this reproduces its "Total Cycles" exactly, in microseconds
instead of minutes.

SRAM access counts follow the same fold walk (column folds outer, row folds
inner, as SCALE-Sim orders them); DRAM traffic comes from which operand tiles
fit in their half of a double-buffered SRAM (see :func:`dram_words`).
"""

from __future__ import annotations

from dataclasses import dataclass

DATAFLOWS = ("os", "ws", "is")


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


@dataclass(frozen=True)
class GemmShape:
    """One matrix product: ``m`` output pixels x ``n`` filters, reduction length ``k``."""

    m: int
    n: int
    k: int

    @property
    def macs(self) -> int:
        return self.m * self.n * self.k


@dataclass(frozen=True)
class FoldPlan:
    """How one GEMM is folded onto the array for one dataflow."""

    sr: int
    sc: int
    t: int
    row_folds: int
    col_folds: int
    cycles_per_fold: int

    @property
    def folds(self) -> int:
        return self.row_folds * self.col_folds


def spatio_temporal(g: GemmShape, dataflow: str) -> tuple[int, int, int]:
    """(S_r, S_c, T) for a dataflow (table in the module docstring)."""
    if dataflow == "os":
        return g.m, g.n, g.k
    if dataflow == "ws":
        return g.k, g.n, g.m
    if dataflow == "is":
        return g.k, g.m, g.n
    raise ValueError(f"dataflow {dataflow!r} unknown; allowed {list(DATAFLOWS)}")


def fold_plan(g: GemmShape, rows: int, cols: int, dataflow: str) -> FoldPlan:
    sr, sc, t = spatio_temporal(g, dataflow)
    if dataflow == "os":
        per_fold = t + rows + cols - 2
    else:
        per_fold = 2 * rows + cols + t - 2
    return FoldPlan(sr, sc, t, _ceil(sr, rows), _ceil(sc, cols), per_fold)


def compute_cycles(g: GemmShape, rows: int, cols: int, dataflow: str) -> int:
    """Cycles to run the GEMM with no memory stalls (SCALE-Sim's "Total Cycles" convention)."""
    p = fold_plan(g, rows, cols, dataflow)
    return p.folds * p.cycles_per_fold - 1


def mapping_efficiency(g: GemmShape, rows: int, cols: int, dataflow: str) -> float:
    """Mean fraction of PEs holding work over the folds (spatial utilisation)."""
    p = fold_plan(g, rows, cols, dataflow)
    return (p.sr * p.sc) / (p.folds * rows * cols)


@dataclass(frozen=True)
class SramAccesses:
    """Words read from / written to the three on-chip buffers by the array."""

    ifmap_reads: int
    filter_reads: int
    ofmap_writes: int
    ofmap_reads: int  # partial sums read back to accumulate across row folds


def sram_accesses(g: GemmShape, rows: int, cols: int, dataflow: str) -> SramAccesses:
    """Operand words moved between SRAM and the array over the whole fold walk.

    The stationary operand is read once; the streamed one once per fold of the
    other spatial axis; partial sums are written once per reduction fold (``ws``/``is``
    split K over row folds, so outputs accumulate through the ofmap buffer).
    """
    p = fold_plan(g, rows, cols, dataflow)
    mk, kn, mn = g.m * g.k, g.k * g.n, g.m * g.n
    if dataflow == "os":
        return SramAccesses(p.col_folds * mk, p.row_folds * kn, mn, 0)
    if dataflow == "ws":
        return SramAccesses(p.col_folds * mk, kn, p.row_folds * mn, (p.row_folds - 1) * mn)
    return SramAccesses(mk, p.col_folds * kn, p.row_folds * mn, (p.row_folds - 1) * mn)


@dataclass(frozen=True)
class DramTraffic:
    """Words moved between DRAM and the three SRAMs."""

    ifmap_reads: int
    filter_reads: int
    ofmap_writes: int
    ofmap_reads: int

    @property
    def total(self) -> int:
        return self.ifmap_reads + self.filter_reads + self.ofmap_writes + self.ofmap_reads


def dram_words(g: GemmShape, rows: int, cols: int, dataflow: str,
               sram_words: tuple[int, int, int]) -> DramTraffic:
    """DRAM traffic of the fold walk given (ifmap, filter, ofmap) SRAM capacities in words.

    Each buffer is double-buffered, so half of it holds live data. An operand that
    fits there is fetched once; otherwise it is fetched again on every pass of the
    outer loop that needs it. Partial sums that do not fit spill to DRAM and are
    read back once per extra reduction fold.
    """
    p = fold_plan(g, rows, cols, dataflow)
    half = tuple(s // 2 for s in sram_words)
    mk, kn, mn = g.m * g.k, g.k * g.n, g.m * g.n
    if dataflow == "os":
        # fold order: filter column tile (K x cols) outer, all ifmap row tiles inner
        ifm = mk if mk <= half[0] else p.col_folds * mk
        flt = kn if g.k * min(cols, g.n) <= half[1] else p.row_folds * kn
        return DramTraffic(ifm, flt, mn, 0)
    if dataflow == "ws":
        # filter tiles are each used once; ifmap (M x rows slices) re-streamed per column fold
        ifm = mk if mk <= half[0] else p.col_folds * mk
        spill = g.m * min(cols, g.n) > half[2]
        return DramTraffic(ifm, kn, (p.row_folds if spill else 1) * mn, (p.row_folds - 1) * mn if spill else 0)
    # is: ifmap tiles used once; filter (rows x N slices) re-streamed per column (pixel) fold
    flt = kn if kn <= half[1] else p.col_folds * kn
    spill = min(cols, g.m) * g.n > half[2]
    return DramTraffic(mk, flt, (p.row_folds if spill else 1) * mn, (p.row_folds - 1) * mn if spill else 0)
