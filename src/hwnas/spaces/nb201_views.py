"""What a runtime executes of an NB201 cell, how NB201 tables measure cells, and the quality pair view.

A latency is close to *additive* over the operations a runtime executes
(a base cost plus one cost per executed operation), so the executed-work
features are counts of executed work, grouped so a predictor can give each
group its own prior: ``op`` columns carry a cost per operation type shared by
every position, ``edge_op`` columns let a position deviate from its type's
cost, and ``struct`` columns describe graph-level effects that are not a sum of
operations (nodes that are computed at all, a cell whose output no longer
depends on its input so the runtime may fold or special-case it).

Views of what a runtime executes (:data:`VIEWS`): ``"executed"`` reads the
canonical form (edges into nodes that never reach the output are pruned as dead
code, as a converter that folds the graph does; edges leaving a zero-valued
node still run); ``"every_edge"`` counts every edge, ``none`` included (a
runtime that runs the exported graph as written: ``none`` is a multiply by
zero, and nothing is dead because every node feeds the output through it).
``+cse``: the runtime also merges identical parameter-free operations reading
the same tensor (common-subexpression elimination, as ONNX Runtime and
TorchScript do): the operation counts then count such a group once (the
duplicates stay as a ``struct`` term, so a runtime that merges only partly is
still fitted).

Measurement protocol: NB201 tables store one measurement per isomorphism class
(:func:`~hwnas.spaces.nb201_cell.unique_str`) and copy it to every member; the
network actually timed is one member (most plausibly the first listed), so the
other members' rows carry the cost of *its* executed graph, not theirs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hwnas.core.errors import CostModelError
from hwnas.spaces import nb201_cell as cell
from hwnas.spaces.nb201_cell import EDGES, OPS
from hwnas.spaces.views import FeatureBlock

#: views of what a runtime executes of an NB201 cell (see the module docstring)
VIEWS = ("executed", "executed+cse", "every_edge", "every_edge+cse")
#: the quality view with edge interactions
PAIRS = "generic+pairs"
#: edge pairs whose joint operation enters :data:`PAIRS`: consecutive edges of an input->output path,
#: the direct edge with each, and the three edges into the output node
EDGE_PAIRS = ((0, 4), (1, 5), (0, 2), (2, 5), (0, 3), (3, 4), (3, 5), (4, 5))


def _rows(genes: np.ndarray) -> np.ndarray:
    return np.atleast_2d(np.asarray(genes, dtype=np.int64))


# ---------------------------------------------------------------------------------------------- executed work
def nb201_cost_features(space, genes: np.ndarray, view: str = "executed") -> FeatureBlock:
    """Executed-work features of NB201 cells (``space`` is an :class:`~hwnas.spaces.nb201.NB201Space`).

    ``view`` (one of :data:`VIEWS`) says what the runtime executes; ``"every_edge"``
    is :func:`nb201_every_edge_features`, the rest of this docstring is ``"executed"``.

    Columns: executed count of each non-``none`` operation (``op``); one-hot of
    each executed (edge, operation) pair (``edge_op``); for nodes 1..3 whether
    the node is computed; whether the cell is *disconnected* (no input->output
    path of non-``none`` edges, so its output is a constant) and, for such cells,
    the executed operation counts (``struct``).
    """
    if view not in VIEWS:
        raise CostModelError(f"feature view {view!r} unknown; allowed views {list(VIEWS)}")
    cse = view.endswith("+cse")
    if view.startswith("every_edge"):
        return nb201_every_edge_features(genes, cse)
    genes = _rows(genes)
    canon = space.canonical_genes(genes)
    live = space.live_genes(genes)
    n_ops = len(OPS)
    one_hot = np.zeros((len(canon), len(EDGES), n_ops), dtype=np.float64)
    np.put_along_axis(one_hot, canon[:, :, None], 1.0, axis=2)
    edge_op = one_hot[:, :, 1:]  # drop `none`
    counts = edge_op.sum(axis=1)
    executed = canon != cell.NONE
    computed = np.stack([executed[:, cell.TARGETS == node].any(axis=1) for node in (1, 2, 3)], axis=1)
    disconnected = (live != cell.NONE).sum(axis=1) == 0
    # nodes whose value is identically zero (no non-`none` path from the input) but which are still
    # computed, and the executed operations that read such a node: runtimes still run them
    reach = cell.reach_from_input(executed)
    zero_node = computed[:, :2] & ~reach[:, 1:3]
    reads_zero = executed & ~reach[:, cell.SOURCES]
    on_zero = (edge_op * reads_zero[:, :, None]).sum(axis=1)  # per operation type
    dup = _duplicates(canon, executed, (OPS.index("skip_connect"), OPS.index("avg_pool_3x3")))
    if cse:
        counts = counts - np.c_[np.zeros(len(canon)), dup[:, 0], np.zeros(len(canon)), dup[:, 1]]
    struct = np.concatenate(
        [computed.astype(np.float64), disconnected[:, None].astype(np.float64), counts * disconnected[:, None],
         zero_node.astype(np.float64), on_zero, dup],
        axis=1,
    )
    names = (
        [f"n_{op}" for op in OPS[1:]]
        + [f"edge_{j}_{k}={op}" for k, j in EDGES for op in OPS[1:]]
        + [f"node{n}_computed" for n in (1, 2, 3)]
        + ["disconnected"]
        + [f"disconnected*n_{op}" for op in OPS[1:]]
        + ["node1_zero", "node2_zero"]
        + [f"n_{op}_reading_zero" for op in OPS[1:]]
        + ["n_skip_connect_duplicate", "n_avg_pool_3x3_duplicate"]
    )
    groups = ["op"] * counts.shape[1] + ["edge_op"] * (len(EDGES) * (n_ops - 1)) + ["struct"] * struct.shape[1]
    matrix = np.concatenate([counts, edge_op.reshape(len(canon), -1), struct], axis=1)
    return FeatureBlock(matrix, tuple(names), tuple(groups))


def nb201_every_edge_features(genes: np.ndarray, cse: bool = False) -> FeatureBlock:
    """Every edge runs, ``none`` included: count of each operation (``op``; with ``cse``, identical
    parameter-free operations on one input count once), one-hot of each (edge, operation) pair
    (``edge_op``) and the duplicates of each parameter-free operation (``struct``)."""
    genes = _rows(genes)
    one_hot = np.zeros((len(genes), len(EDGES), len(OPS)), dtype=np.float64)
    np.put_along_axis(one_hot, genes[:, :, None], 1.0, axis=2)
    free = (OPS.index("none"), OPS.index("skip_connect"), OPS.index("avg_pool_3x3"))
    dup = _duplicates(genes, np.ones(genes.shape, dtype=bool), free)
    counts = one_hot.sum(axis=1)
    if cse:
        counts[:, list(free)] -= dup
    names = ([f"n_{op}" for op in OPS] + [f"edge_{j}_{k}={op}" for k, j in EDGES for op in OPS]
             + [f"n_{OPS[o]}_duplicate" for o in free])
    groups = ["op"] * len(OPS) + ["edge_op"] * (len(EDGES) * len(OPS)) + ["struct"] * len(free)
    matrix = np.concatenate([counts, one_hot.reshape(len(genes), -1), dup], axis=1)
    return FeatureBlock(matrix, tuple(names), tuple(groups))


def _duplicates(genes: np.ndarray, executed: np.ndarray, ops: Sequence[int]) -> np.ndarray:
    """Per parameter-free operation in ``ops``: executed copies beyond the first on the same source node.

    Two such operations on the same input compute the same tensor; graph runtimes
    (ONNX Runtime, TorchScript) merge them by common-subexpression elimination.
    """
    out = np.zeros((len(genes), len(ops)))
    for i, op in enumerate(ops):
        hit = executed & (genes == op)
        for src in np.unique(cell.SOURCES):
            out[:, i] += np.maximum(hit[:, cell.SOURCES == src].sum(axis=1) - 1, 0)
    return out


# ---------------------------------------------------------------------------------------------- measurement
def nb201_measure_keys(genes: np.ndarray) -> np.ndarray:
    """An integer per isomorphism class (:func:`~hwnas.spaces.nb201_cell.unique_str`): rows NB201 tables
    measure once."""
    return cell.measurement_class_table()[cell.codes(genes)]


def nb201_class_keys(space, genes: np.ndarray) -> np.ndarray:
    """An integer per executed-graph class (the canonical genes' gene code): equal keys execute the same
    graph, so they share one measurement."""
    return space.gene_codes(space.canonical_genes(_rows(genes)))


def first_listed_representatives(catalog: np.ndarray) -> dict[int, int]:
    """For a table listing NB201 cells in order: measurement class -> gene code of its first-listed member.

    Only classes with more than one distinct member in ``catalog`` are returned (for
    the others the member is its own representative). This is the cell whose
    network a table that measures each class once most plausibly timed.
    """
    codes = cell.codes(catalog)
    keys = cell.measurement_class_table()[codes]
    reps: dict[int, int] = {}
    members: dict[int, set[int]] = {}
    for key, code in zip(keys.tolist(), codes.tolist()):
        reps.setdefault(key, code)
        members.setdefault(key, set()).add(code)
    return {k: reps[k] for k, m in members.items() if len(m) > 1}


def apply_representatives(genes: np.ndarray, reps: dict[int, int]) -> np.ndarray:
    """Replace each gene row by its class representative's genes (rows of unlisted classes stay)."""
    genes = _rows(genes)
    if not reps:
        return genes
    keys = nb201_measure_keys(genes)
    codes = np.array([reps.get(int(k), -1) for k in keys])
    out = genes.copy()
    hit = codes >= 0
    if hit.any():
        out[hit] = cell.genes_of(codes[hit])
    return out


def measurement_keys(space, genes: np.ndarray, view: str, representative: str) -> np.ndarray:
    """Rows sharing a measurement: the measurement class (``first``), the cell as written (every-edge
    views: nothing is dead) or the executed graph."""
    if representative == "first":
        return nb201_measure_keys(genes)
    if view.startswith("every_edge"):
        return cell.codes(genes)
    return nb201_class_keys(space, genes)


# ---------------------------------------------------------------------------------------------- quality
def pairs_features(space, genes: np.ndarray) -> np.ndarray:
    """``space.features`` plus the joint operation of each pair in :data:`EDGE_PAIRS` of fully live edges
    (accuracy near the top of NB201 is not additive in the edges)."""
    genes = _rows(genes)
    live = space.live_genes(genes)
    n_ops = len(OPS)
    eye = np.eye(n_ops * n_ops)
    joint = [eye[live[:, i] * n_ops + live[:, j]] for i, j in EDGE_PAIRS]
    return np.hstack([np.asarray(space.features(genes), dtype=np.float64), *joint])
