"""Few-shot transfer of a latency/energy predictor to a new device or runtime.

A predictor fitted on a source device (many measurements) knows what a fit on
~20 rows cannot learn well: how the runtime executes a cell (its view and the
table's measurement protocol, see :class:`~hwnas.costs.latency.predictor.LatencyPredictor`)
and the small per-position and graph-level deviations from the per-operation
costs. What changes most between devices is the cost of each operation type,
and 20 rows pin those down. So the transferred model is the same additive
model in the source's view, its position/graph terms pulled towards the
source's coefficients (rescaled to the target's level) instead of towards zero,
and its operation costs either free or pulled weakly towards the source's.

A source can also be the wrong prior (a runtime with a different cost
structure): :func:`adapt` compares, by cross-validation on the few target rows,
the transferred variants with a predictor fitted from scratch (which chooses its
own view) and keeps the one that ranks the held-out rows best.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy.stats import kendalltau

from hwnas.core.errors import CostModelError
from hwnas.costs.latency.predictor import LatencyPredictor

#: pull towards the rescaled source coefficients, per group: operation costs free, position and graph terms
#: as strongly as a fit from scratch pulls them towards zero
TRANSFER_SHRINK = {"intercept": 0.0, "op": 0.0, "edge_op": 3.0, "struct": 1.0}
#: the second transferred variant also pulls the operation costs (same runtime, another quantity: energy)
TRANSFER_SHRINK_OPS = {**TRANSFER_SHRINK, "op": 0.3}


def adapt(
    source: LatencyPredictor,
    items: Sequence[Any],
    y: Sequence[float],
    target: str | None = None,
    shrink: Mapping[str, float] | None = None,
    members: int | None = None,
    seed: int = 0,
    check: bool = True,
    catalog: Sequence[Any] | None = None,
) -> LatencyPredictor:
    """A predictor for ``target`` fitted on a few target measurements with ``source`` as the prior.

    Candidates: the source prior with free operation costs (``shrink``, default
    :data:`TRANSFER_SHRINK`), with operation costs pulled too (:data:`TRANSFER_SHRINK_OPS`;
    only when ``shrink`` is not given) and a fit from scratch. With ``check``
    (default), 5-fold cross-validation on the target rows (Kendall tau of the
    out-of-fold predictions) picks one; without it the first is used.
    ``provenance`` records ``transfer_used``, the chosen ``transfer_variant`` and
    the CV scores. The scratch model chooses its own view and representative
    (``catalog`` as for :meth:`LatencyPredictor.fit`); the transferred ones keep the source's.
    """
    if not source.fitted:
        raise CostModelError("transfer source predictor is not fitted")
    variants: dict[str, Mapping[str, float] | None] = {"prior": dict(TRANSFER_SHRINK if shrink is None else shrink)}
    if shrink is None:
        variants["prior+ops"] = dict(TRANSFER_SHRINK_OPS)
    variants["scratch"] = None
    y = np.asarray(y, dtype=np.float64)

    def subset(rows):
        if rows is None:
            return items
        return items[rows] if isinstance(items, np.ndarray) else [items[i] for i in rows]

    def make(n_members: int, variant: str, rows=None) -> LatencyPredictor:
        prior_shrink = variants[variant]
        pred = LatencyPredictor(space=source.space, target=target or source.target, members=n_members,
                                shrink=source.shrink, robust_scale=source.robust_scale,
                                memory=source.use_memory, seed=seed, view=source.view_option,
                                representative=source.representative_option, cv_folds=source.cv_folds)
        sub_y = y if rows is None else y[rows]
        return pred.fit(subset(rows), sub_y, prior=None if prior_shrink is None else source,
                        prior_shrink=prior_shrink, catalog=catalog)

    chosen = next(iter(variants))
    cv = None
    if check and len(y) >= 8:
        folds = np.array_split(np.random.default_rng(seed).permutation(len(y)), 5)
        oof = {name: np.zeros(len(y)) for name in variants}
        for fold in folds:
            rest = np.setdiff1d(np.arange(len(y)), fold)
            for name in variants:
                oof[name][fold] = make(1, name, rest).predict(subset(fold), use_memory=False)
        cv = {name: float(kendalltau(pred, y).statistic) for name, pred in oof.items()}
        cv = {name: (tau if np.isfinite(tau) else -1.0) for name, tau in cv.items()}
        chosen = max(cv, key=cv.get)  # ties: the first listed (the prior)
    pred = make(members or source.n_members, chosen)
    pred.provenance.update({"transfer_from": source.target, "source_n_train": source.n_train,
                            "transfer_used": variants[chosen] is not None, "transfer_variant": chosen,
                            "cv_kendall_tau": cv})
    return pred
