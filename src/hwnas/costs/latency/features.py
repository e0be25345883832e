"""Cost features for the learned latency/energy predictor: what a runtime actually executes.

A latency is close to *additive* over the operations a runtime executes
(a base cost plus one cost per executed operation), so the features here are
counts of executed work, grouped so the predictor can give each group its own
prior: ``op`` columns carry a cost per operation type shared by every position
(few parameters: learnable from ~20 measurements), ``edge_op`` columns let a
position deviate from its type's cost (shrunk towards zero), and ``struct``
columns describe graph-level effects that are not a sum of operations
(nodes that are computed at all, a cell whose output no longer depends on its
input so the runtime may fold or special-case it).

Featurisers:

* :func:`nb201_cost_features` reads NB201 genes in one of two *views* of what a
  runtime executes: ``"executed"`` reads the space's canonical form (edges into
  nodes that never reach the output are pruned as dead code, as a converter
  that folds the graph does; edges leaving a zero-valued node still run), and
  ``"every_edge"`` counts every edge, ``none`` included (a runtime that runs the
  exported graph as written: the ``none`` operation is a multiply by zero, and
  nothing is dead because every node feeds the output through it). ``+cse``:
  the runtime also merges identical parameter-free operations reading the same
  tensor (common-subexpression elimination, as ONNX Runtime and TorchScript do):
  the operation counts then count such a group once (the duplicates stay as a
  shrunk graph term, so a runtime that merges only partly is still fitted).
* :func:`nb201_measure_keys` / :func:`first_listed_representatives`: the
  measurement protocol of NB201 tables. Benchmarks store one measurement per
  isomorphism class of cells (NAS-Bench-201's ``to_unique_str(consider_zero=True)``)
  and copy it to every member; the network actually timed is one member, so the
  other members' rows carry the cost of *its* executed graph, not theirs.
* :func:`layer_cost_features` reads a :class:`~hwnas.core.layers.Layer`
  list (any trainable space): MACs, parameters and memory traffic per layer kind.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hwnas.core.errors import CostModelError
from hwnas.core.layers import LAYER_OPS, Layer

#: prior groups a feature column may belong to
GROUPS = ("op", "edge_op", "struct")
#: views of what a runtime executes of an NB201 cell (see the module docstring)
VIEWS = ("executed", "executed+cse", "every_edge", "every_edge+cse")
#: how a table's value relates to the row's own cell: ``own`` (the cell itself was measured) or
#: ``first`` (one measurement per isomorphism class, taken on its first-listed member)
REPRESENTATIVES = ("own", "first")


@dataclass(frozen=True)
class FeatureBlock:
    """A feature matrix with the name and prior group of each column."""

    matrix: np.ndarray
    names: tuple[str, ...]
    groups: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.matrix.ndim != 2 or self.matrix.shape[1] != len(self.names) or len(self.names) != len(self.groups):
            raise ValueError("feature matrix, names and groups disagree in size")
        bad = [g for g in self.groups if g not in GROUPS]
        if bad:
            raise ValueError(f"unknown feature groups {sorted(set(bad))}; allowed {list(GROUPS)}")


# ---------------------------------------------------------------------------------------------- NB201
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
    from hwnas.spaces.nb201 import EDGES, OPS

    if view not in VIEWS:
        raise CostModelError(f"feature view {view!r} unknown; allowed views {list(VIEWS)}")
    cse = view.endswith("+cse")
    if view.startswith("every_edge"):
        return nb201_every_edge_features(genes, cse)
    genes = np.atleast_2d(np.asarray(genes, dtype=np.int64))
    canon = space.canonical_genes(genes)
    live = space.live_genes(genes)
    n_ops = len(OPS)
    one_hot = np.zeros((len(canon), len(EDGES), n_ops), dtype=np.float64)
    np.put_along_axis(one_hot, canon[:, :, None], 1.0, axis=2)
    edge_op = one_hot[:, :, 1:]  # drop `none`
    counts = edge_op.sum(axis=1)
    executed = canon != 0
    targets = np.array([k for k, _ in EDGES])
    computed = np.stack([executed[:, targets == node].any(axis=1) for node in (1, 2, 3)], axis=1)
    disconnected = (live != 0).sum(axis=1) == 0
    # nodes whose value is identically zero (no non-`none` path from the input) but which are still
    # computed, and the executed operations that read such a node: runtimes still run them
    reach = np.ones((len(canon), 4), dtype=bool)
    for node in (1, 2, 3):
        into = [i for i, (k, _) in enumerate(EDGES) if k == node]
        reach[:, node] = np.any([executed[:, i] & reach[:, EDGES[i][1]] for i in into], axis=0)
    zero_node = computed[:, :2] & ~reach[:, 1:3]
    sources = np.array([j for _, j in EDGES])
    reads_zero = executed & ~reach[:, sources]
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
    from hwnas.spaces.nb201 import EDGES, OPS

    genes = np.atleast_2d(np.asarray(genes, dtype=np.int64))
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
    from hwnas.spaces.nb201 import EDGES

    sources = np.array([j for _, j in EDGES])
    out = np.zeros((len(genes), len(ops)))
    for i, op in enumerate(ops):
        hit = executed & (genes == op)
        for src in np.unique(sources):
            out[:, i] += np.maximum(hit[:, sources == src].sum(axis=1) - 1, 0)
    return out


def _gene_codes(genes: np.ndarray) -> np.ndarray:
    """Base-5 code of NB201 gene rows, first edge most significant (0 .. 5**6 - 1)."""
    genes = np.atleast_2d(np.asarray(genes, dtype=np.int64))
    if genes.shape[1] != 6 or genes.min(initial=0) < 0 or genes.max(initial=0) > 4:
        raise CostModelError("NB201 genes must be rows of 6 operation ids in 0..4")
    return genes @ (5 ** np.arange(5, -1, -1))


def nb201_unique_str(genes: Sequence[int]) -> str:
    """NAS-Bench-201's isomorphism signature of a cell (``Structure.to_unique_str(consider_zero=True)``).

    Each node is the sorted sum of its inputs' expressions; ``none`` or an input
    that is exactly zero gives ``#``, ``skip_connect`` passes its input's expression
    through, any other operation wraps it. Cells with equal signatures compute the
    same function, and NB201 tables measure each such class once.
    """
    from hwnas.spaces.nb201 import OPS

    nodes = {0: "0"}
    e = 0
    for node in (1, 2, 3):
        terms = []
        for src in range(node):
            op = OPS[int(genes[e])]
            e += 1
            if op == "none" or nodes[src] == "#":
                terms.append("#")
            elif op == "skip_connect":
                terms.append(nodes[src])
            else:
                terms.append(f"({nodes[src]})@{op}")
        nodes[node] = "+".join(sorted(terms))
    return nodes[3]


_MEASURE_KEYS: np.ndarray | None = None


def _measure_key_table() -> np.ndarray:
    """Measurement class of every gene code: the smallest gene code with the same signature."""
    global _MEASURE_KEYS
    if _MEASURE_KEYS is None:
        every = np.array(np.unravel_index(np.arange(5**6), (5,) * 6)).T
        first: dict[str, int] = {}
        table = np.empty(len(every), dtype=np.int64)
        for code, row in enumerate(every):
            table[code] = first.setdefault(nb201_unique_str(row), code)
        _MEASURE_KEYS = table
    return _MEASURE_KEYS


def nb201_measure_keys(genes: np.ndarray) -> np.ndarray:
    """An integer per isomorphism class (:func:`nb201_unique_str`): rows that NB201 tables measure once."""
    return _measure_key_table()[_gene_codes(genes)]


def first_listed_representatives(catalog: np.ndarray) -> dict[int, int]:
    """For a table listing NB201 cells in order: measurement class -> gene code of its first-listed member.

    Only classes with more than one distinct member in ``catalog`` are returned (for
    the others the member is its own representative). This is the cell whose
    network a table that measures each class once most plausibly timed.
    """
    codes = _gene_codes(catalog)
    keys = _measure_key_table()[codes]
    reps: dict[int, int] = {}
    members: dict[int, set[int]] = {}
    for key, code in zip(keys.tolist(), codes.tolist()):
        reps.setdefault(key, code)
        members.setdefault(key, set()).add(code)
    return {k: reps[k] for k, m in members.items() if len(m) > 1}


def apply_representatives(genes: np.ndarray, reps: dict[int, int]) -> np.ndarray:
    """Replace each gene row by its class representative's genes (rows of unlisted classes stay)."""
    genes = np.atleast_2d(np.asarray(genes, dtype=np.int64))
    if not reps:
        return genes
    keys = nb201_measure_keys(genes)
    codes = np.array([reps.get(int(k), -1) for k in keys])
    out = genes.copy()
    hit = codes >= 0
    if hit.any():
        out[hit] = np.array(np.unravel_index(codes[hit], (5,) * 6)).T
    return out


def nb201_class_keys(space, genes: np.ndarray) -> np.ndarray:
    """An integer per executed-graph class (the canonical genes read as a base-5 number).

    Cells with equal keys execute the same graph, so they share one measurement.
    """
    return space.gene_codes(space.canonical_genes(np.atleast_2d(np.asarray(genes, dtype=np.int64))))


# ---------------------------------------------------------------------------------------------- layers
_ELEMENTWISE = tuple(op for op in LAYER_OPS if op not in ("conv", "dwconv", "linear"))


def _layer_row(layers: Sequence[Layer]) -> np.ndarray:
    gemm_macs = {"conv": 0.0, "dwconv": 0.0, "linear": 0.0}
    gemm_count = {"conv": 0.0, "dwconv": 0.0, "linear": 0.0}
    elem = dict.fromkeys(_ELEMENTWISE, 0.0)
    params = 0.0
    traffic = 0.0
    for i, layer in enumerate(layers):
        if not isinstance(layer, Layer):
            raise CostModelError(f"layer {i}: expected a Layer, got {type(layer).__name__}")
        op = "dwconv" if layer.op == "conv" and layer.groups > 1 and layer.groups == layer.in_channels else layer.op
        if op in gemm_macs:
            gemm_macs[op] += layer.macs / 1e6
            gemm_count[op] += 1.0
        else:
            elem[op] += layer.output_elements / 1e6
        params += layer.params / 1e6
        traffic += (layer.input_elements + layer.output_elements) / 1e6
    return np.array(
        list(gemm_macs.values()) + list(elem.values()) + list(gemm_count.values()) + [params, traffic, len(layers)],
        dtype=np.float64,
    )


def layer_cost_features(networks: Sequence[Sequence[Layer]]) -> FeatureBlock:
    """Features of layer lists: MACs (millions) per GEMM kind and output elements per element-wise kind
    (``op``: cost per unit of work), and layer counts, parameters, activation traffic (``struct``)."""
    if len(networks) == 0:
        raise CostModelError("no networks to featurise")
    matrix = np.stack([_layer_row(layers) for layers in networks])
    names = (
        [f"macs_{k}" for k in ("conv", "dwconv", "linear")]
        + [f"elements_{k}" for k in _ELEMENTWISE]
        + [f"count_{k}" for k in ("conv", "dwconv", "linear")]
        + ["params", "activation_traffic", "n_layers"]
    )
    groups = ["op"] * (3 + len(_ELEMENTWISE)) + ["struct"] * 6
    return FeatureBlock(matrix, tuple(names), tuple(groups))
