"""The NAS-Bench-201 cell as a graph: its operations, edges, reachability and equivalence classes.

A cell has 4 nodes; node 0 is the input, node 3 the output, and each edge
``j -> k`` (j < k) holds one of :data:`OPS`. Gene rows list the six edges'
operation ids in :data:`EDGES` order; the *gene code* reads a row as a base-5
number, first edge most significant (0 .. 5**6 - 1).

Three equivalences matter:

* **executed** (canonical): an edge into a node whose output never reaches
  node 3 is never run, so it becomes ``none`` (dead-code elimination);
* **fully live** (function): only edges on an input->output path of
  non-``none`` edges change the cell's output;
* **measurement class**: NAS-Bench-201's isomorphism signature
  (:func:`unique_str`), the classes NB201 tables measure once.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

from hwnas.core.errors import CostModelError

OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
EDGES = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))  # (to, from), in string order
EDGE_NAMES = tuple(f"edge_{j}_{k}" for k, j in EDGES)  # edge_<from>_<to>
NONE = 0
N_CELLS = len(OPS) ** len(EDGES)
#: target and source node of each edge, as arrays
TARGETS = np.array([k for k, _ in EDGES])
SOURCES = np.array([j for _, j in EDGES])
_POW = len(OPS) ** np.arange(len(EDGES) - 1, -1, -1)


def codes(genes: np.ndarray) -> np.ndarray:
    """Gene code of each row (rows of 6 operation ids in 0..4, checked)."""
    genes = np.atleast_2d(np.asarray(genes, dtype=np.int64))
    if genes.shape[1] != len(EDGES) or genes.min(initial=0) < 0 or genes.max(initial=0) >= len(OPS):
        raise CostModelError("NB201 genes must be rows of 6 operation ids in 0..4")
    return genes @ _POW


def genes_of(codes_: np.ndarray) -> np.ndarray:
    """Gene rows of gene codes."""
    return np.array(np.unravel_index(np.asarray(codes_, dtype=np.int64), (len(OPS),) * len(EDGES))).T


def reach_from_input(on: np.ndarray) -> np.ndarray:
    """Per row and node: whether a path of ``on`` edges leads from node 0 to it (node 0: True)."""
    reach = np.ones((len(on), 4), dtype=bool)
    for node in (1, 2, 3):
        into = np.flatnonzero(TARGETS == node)
        reach[:, node] = np.any(on[:, into] & reach[:, SOURCES[into]], axis=1)
    return reach


def reach_to_output(on: np.ndarray) -> np.ndarray:
    """Per row and node: whether a path of ``on`` edges leads from it to node 3 (node 3: True)."""
    reach = np.ones((len(on), 4), dtype=bool)
    for node in (2, 1, 0):
        out_of = np.flatnonzero(SOURCES == node)
        reach[:, node] = np.any(on[:, out_of] & reach[:, TARGETS[out_of]], axis=1)
    return reach


def used_edges(genes: np.ndarray) -> np.ndarray:
    """Edges a runtime executes: non-``none`` and feeding a node whose output reaches node 3."""
    on = np.atleast_2d(genes) != NONE
    return on & reach_to_output(on)[:, TARGETS]


def live_edges(genes: np.ndarray) -> np.ndarray:
    """Edges on an input->output path through non-``none`` operations."""
    on = np.atleast_2d(genes) != NONE
    return on & reach_from_input(on)[:, SOURCES] & reach_to_output(on)[:, TARGETS]


@functools.cache
def tables() -> tuple[np.ndarray, np.ndarray]:
    """Canonical (executed) genes and fully live genes of every cell, indexed by gene code."""
    every = genes_of(np.arange(N_CELLS))
    return np.where(used_edges(every), every, NONE), np.where(live_edges(every), every, NONE)


def canonical_genes(genes: np.ndarray) -> np.ndarray:
    return tables()[0][np.atleast_2d(genes) @ _POW]


def live_genes(genes: np.ndarray) -> np.ndarray:
    return tables()[1][np.atleast_2d(genes) @ _POW]


def unique_str(genes: Sequence[int]) -> str:
    """NAS-Bench-201's isomorphism signature of a cell (``Structure.to_unique_str(consider_zero=True)``).

    Each node is the sorted sum of its inputs' expressions; ``none`` or an input
    that is exactly zero gives ``#``, ``skip_connect`` passes its input's expression
    through, any other operation wraps it. Cells with equal signatures compute the
    same function, and NB201 tables measure each such class once.
    """
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


@functools.cache
def measurement_class_table() -> np.ndarray:
    """Measurement class of every gene code: the smallest gene code with the same signature."""
    first: dict[str, int] = {}
    table = np.empty(N_CELLS, dtype=np.int64)
    for code, row in enumerate(genes_of(np.arange(N_CELLS))):
        table[code] = first.setdefault(unique_str(row), code)
    return table
