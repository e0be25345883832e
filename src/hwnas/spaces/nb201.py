"""The NAS-Bench-201 cell space: 6 edges of a 4-node cell, 5 operations each (15,625 cells).

Text form is the benchmark's string, e.g.
``|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|``
where group k (k = 1, 2, 3) lists the operation on every edge ``j -> k`` as ``op~j``.

Canonical form merges cells that run the same graph after dead-code elimination:
an edge into a node whose output never reaches the cell output (node 3) is
never executed, so it becomes ``none``. This is exactly the equivalence the
measured latencies of ``nb201_hw.csv`` honour (12,205 classes, no class with
two latencies). Two stronger merges are *not* made, because measured runtime
differs: edges leaving a node that only ever receives zeros still run, and the
symmetric swap of nodes 1 and 2 is a different execution order. For accuracy,
:meth:`NB201Space.features` adds the fully live view (edges on an input->output path).
"""

from __future__ import annotations

import functools
import re

import numpy as np

from hwnas.core.errors import InvalidArchitecture
from hwnas.spaces.base import ChoiceSpace, Dimension

OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
EDGES = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))  # (to, from), in string order
EDGE_NAMES = tuple(f"edge_{j}_{k}" for k, j in EDGES)  # edge_<from>_<to>
_NONE = 0
_GROUP_RE = re.compile(r"^\|(.*)\|$")


def _live_edges(genes: tuple[int, ...]) -> tuple[bool, ...]:
    """Which edges lie on an input->output path through non-none operations."""
    on = {EDGES[i]: genes[i] != _NONE for i in range(6)}
    reach_from_in = {0: True}
    for node in (1, 2, 3):
        reach_from_in[node] = any(reach_from_in[j] and on[(node, j)] for j in range(node))
    reach_to_out = {3: True}
    for node in (2, 1, 0):
        reach_to_out[node] = any(on[(k, node)] and reach_to_out[k] for k in range(node + 1, 4))
    return tuple(on[(k, j)] and reach_from_in[j] and reach_to_out[k] for k, j in EDGES)


def _used_edges(genes: tuple[int, ...]) -> tuple[bool, ...]:
    """Edges that a runtime executes: non-none and feeding a node whose output reaches node 3."""
    on = {EDGES[i]: genes[i] != _NONE for i in range(6)}
    reach_to_out = {3: True}
    for node in (2, 1, 0):
        reach_to_out[node] = any(on[(k, node)] and reach_to_out[k] for k in range(node + 1, 4))
    return tuple(on[(k, j)] and reach_to_out[k] for k, j in EDGES)


def _canonical(genes: tuple[int, ...]) -> tuple[int, ...]:
    used = _used_edges(genes)
    return tuple(op if u else _NONE for op, u in zip(genes, used))


@functools.cache
def _tables() -> tuple[np.ndarray, np.ndarray]:
    """Canonical genes and fully-live genes for all 5**6 cells, indexed by the base-5 number of the genes."""
    canon = np.zeros((5**6, 6), dtype=np.int64)
    live = np.zeros((5**6, 6), dtype=np.int64)
    for idx in range(5**6):
        genes = tuple(int(x) for x in np.base_repr(idx, 5).zfill(6))
        canon[idx] = _canonical(genes)
        live[idx] = [op if alive else _NONE for op, alive in zip(genes, _live_edges(genes))]
    return canon, live


_POW = 5 ** np.arange(5, -1, -1)


class NB201Space(ChoiceSpace):
    """The NAS-Bench-201 / NATS-Bench topology space."""

    name = "nb201"

    def __init__(self) -> None:
        super().__init__([Dimension(n, OPS) for n in EDGE_NAMES])

    def parse(self, text: str) -> dict:
        if not isinstance(text, str):
            raise InvalidArchitecture(f"an NB201 architecture string is text, got {type(text).__name__}")
        groups = text.strip().split("+")
        if len(groups) != 3:
            raise InvalidArchitecture(
                f"NB201 string {text!r} must have 3 groups joined by '+', found {len(groups)}"
            )
        arch = {}
        for k, group in enumerate(groups, start=1):
            m = _GROUP_RE.match(group)
            if not m:
                raise InvalidArchitecture(f"NB201 string {text!r}: group {k} {group!r} must look like |op~0|...|")
            items = m.group(1).split("|")
            if len(items) != k:
                raise InvalidArchitecture(
                    f"NB201 string {text!r}: node {k} needs {k} incoming edges, found {len(items)}"
                )
            for j, item in enumerate(items):
                op, sep, src = item.partition("~")
                if not sep or src != str(j):
                    raise InvalidArchitecture(
                        f"NB201 string {text!r}: edge {item!r} of node {k} must be 'op~{j}'"
                    )
                if op not in OPS:
                    raise InvalidArchitecture(f"NB201 string {text!r}: unknown operation {op!r}; allowed {list(OPS)}")
                arch[f"edge_{j}_{k}"] = op
        return arch

    def format(self, arch) -> str:
        a = self.validate(arch)
        groups = []
        for k in (1, 2, 3):
            groups.append("|" + "|".join(f"{a[f'edge_{j}_{k}']}~{j}" for j in range(k)) + "|")
        return "+".join(groups)

    def canonical(self, arch) -> dict:
        return self.from_genes(self.canonical_genes(self.to_genes(arch))[0])

    def canonical_genes(self, genes: np.ndarray) -> np.ndarray:
        genes = np.atleast_2d(genes)
        return _tables()[0][genes @ _POW]

    def live_genes(self, genes: np.ndarray) -> np.ndarray:
        """Genes with every edge off an input->output path set to ``none`` (what affects accuracy)."""
        genes = np.atleast_2d(genes)
        return _tables()[1][genes @ _POW]

    def function_genes(self, genes: np.ndarray) -> np.ndarray:
        """The fully live edges (see :meth:`live_genes`): what determines the cell's outputs."""
        return self.live_genes(genes)

    def features(self, genes: np.ndarray) -> np.ndarray:
        """One-hot of the executed cell and of its fully live part, op counts of both, path depths.

        The executed (canonical) edges are what costs time; the fully live edges
        (on an input->output path) are what changes the function and accuracy.
        """
        canon = self.canonical_genes(genes)
        live = self.live_genes(genes)
        counts = np.stack([(canon == op).sum(1) for op in range(1, len(OPS))], axis=1).astype(np.float32)
        live_counts = np.stack([(live == op).sum(1) for op in range(1, len(OPS))], axis=1).astype(np.float32)
        convs = np.isin(live, (2, 3))
        # number of parameterised ops on the direct/2-hop/3-hop paths
        direct = convs[:, 3].astype(np.float32)
        two_hop = (convs[:, 0] | convs[:, 4]).astype(np.float32) + (convs[:, 1] | convs[:, 5]).astype(np.float32)
        three_hop = (convs[:, 0] | convs[:, 2] | convs[:, 5]).astype(np.float32)
        return np.concatenate(
            [self.one_hot(canon), self.one_hot(live), counts, live_counts,
             direct[:, None], two_hop[:, None], three_hop[:, None]],
            axis=1,
        )
