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

Two featurisers:

* :func:`nb201_cost_features` reads NB201 genes through the space's canonical
  (executed) form: edges into nodes that never reach the output are not run,
  while edges leaving a zero-valued node still are.
* :func:`layer_cost_features` reads a :class:`~hwnas.hardware.layers.Layer`
  list (any trainable space): MACs, parameters and memory traffic per layer kind.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hwnas.errors import CostModelError
from hwnas.hardware.layers import LAYER_OPS, Layer

#: prior groups a feature column may belong to
GROUPS = ("op", "edge_op", "struct")


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
def nb201_cost_features(space, genes: np.ndarray) -> FeatureBlock:
    """Executed-work features of NB201 cells (``space`` is an :class:`~hwnas.spaces.nb201.NB201Space`).

    Columns: executed count of each non-``none`` operation (``op``); one-hot of
    each executed (edge, operation) pair (``edge_op``); for nodes 1..3 whether
    the node is computed; whether the cell is *disconnected* (no input->output
    path of non-``none`` edges, so its output is a constant) and, for such cells,
    the executed operation counts (``struct``).
    """
    from hwnas.spaces.nb201 import EDGES, OPS

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
    struct = np.concatenate(
        [computed.astype(np.float64), disconnected[:, None].astype(np.float64), counts * disconnected[:, None],
         zero_node.astype(np.float64), on_zero],
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
    )
    groups = ["op"] * counts.shape[1] + ["edge_op"] * (len(EDGES) * (n_ops - 1)) + ["struct"] * struct.shape[1]
    matrix = np.concatenate([counts, edge_op.reshape(len(canon), -1), struct], axis=1)
    return FeatureBlock(matrix, tuple(names), tuple(groups))


def nb201_class_keys(space, genes: np.ndarray) -> np.ndarray:
    """An integer per executed-graph class (the canonical genes read as a base-5 number).

    Cells with equal keys execute the same graph, so they share one measurement.
    """
    canon = space.canonical_genes(np.atleast_2d(np.asarray(genes, dtype=np.int64)))
    base = space.cardinalities.astype(np.int64)
    weights = np.cumprod(np.r_[1, base[::-1][:-1]])[::-1]
    return canon @ weights


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
