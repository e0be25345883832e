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

import re

import numpy as np

from hwnas.core.errors import InvalidArchitecture
from hwnas.spaces import nb201_cell as cell
from hwnas.spaces import nb201_views as views
from hwnas.spaces.base import ChoiceSpace, Dimension
from hwnas.spaces.nb201_cell import EDGE_NAMES, EDGES, OPS
from hwnas.spaces.views import FeatureBlock

__all__ = ["EDGES", "EDGE_NAMES", "OPS", "NB201Space"]

_GROUP_RE = re.compile(r"^\|(.*)\|$")


class NB201Space(ChoiceSpace):
    """The NAS-Bench-201 / NATS-Bench topology space.

    Implements :class:`~hwnas.spaces.protocols.QualityViews` (the edge-pair view
    :data:`~hwnas.spaces.nb201_views.PAIRS`) and
    :class:`~hwnas.spaces.protocols.ExecutedWorkViews` (the views of
    :mod:`hwnas.spaces.nb201_views` and NB201's isomorphism classes).
    """

    name = "nb201"
    quality_views = (views.PAIRS,)
    executed_views = views.VIEWS

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
        return cell.canonical_genes(genes)

    def live_genes(self, genes: np.ndarray) -> np.ndarray:
        """Genes with every edge off an input->output path set to ``none`` (what affects accuracy)."""
        return cell.live_genes(genes)

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

    # ------------------------------------------------------------------ views for predictors
    def quality_features(self, name: str, genes: np.ndarray) -> np.ndarray:
        if name != views.PAIRS:
            raise ValueError(f"quality view {name!r} unknown; allowed {list(self.quality_views)}")
        return views.pairs_features(self, genes)

    def executed_work(self, genes: np.ndarray, view: str) -> FeatureBlock:
        return views.nb201_cost_features(self, genes, view)

    def measurement_keys(self, genes: np.ndarray, view: str, representative: str) -> np.ndarray:
        return views.measurement_keys(self, genes, view, representative)

    def measurement_classes(self, genes: np.ndarray) -> np.ndarray:
        return views.nb201_measure_keys(genes)

    def listed_representatives(self, catalog: np.ndarray) -> dict[int, int]:
        return views.first_listed_representatives(catalog)

    def apply_representatives(self, genes: np.ndarray, reps: dict[int, int]) -> np.ndarray:
        return views.apply_representatives(genes, reps)
