"""Few-shot transfer of a latency/energy predictor to a new device or runtime.

A predictor fitted on a source device (many measurements) already knows which
operations cost time relative to each other; a new device mostly rescales
those costs and shifts a few. So the target model is the same additive model,
started from the source's mean coefficients rescaled to the target's level and
pulled towards them (every group, the intercept included) while ~20 target
measurements correct what differs.

A source can also be the wrong prior (a runtime with a different cost
structure): :func:`adapt` then checks, by cross-validation on the few target
rows, whether the transferred model ranks them better than one fitted from
scratch, and keeps whichever does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy.stats import kendalltau

from hwnas.errors import CostModelError
from hwnas.hardware.latency_predictor import LatencyPredictor

#: default pull towards the rescaled source coefficients, per group
TRANSFER_SHRINK = {"intercept": 1.0, "op": 1.0, "edge_op": 3.0, "struct": 3.0}


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

    With ``check`` (default), 5-fold cross-validation on the target rows compares
    the transferred model with one fitted from scratch (Kendall tau of the
    out-of-fold predictions); the scratch model is returned if it ranks better.
    ``provenance["transfer_used"]`` records the choice. The scratch model chooses its
    own view and representative (see :class:`LatencyPredictor`; ``catalog`` as there);
    the transferred one keeps the source's.
    """
    if not source.fitted:
        raise CostModelError("transfer source predictor is not fitted")
    prior_shrink = dict(TRANSFER_SHRINK if shrink is None else shrink)
    y = np.asarray(y, dtype=np.float64)

    def make(n_members: int, use_prior: bool, rows=None) -> LatencyPredictor:
        pred = LatencyPredictor(space=source.space_name, target=target or source.target, members=n_members,
                                shrink=source.shrink, robust_scale=source.robust_scale,
                                memory=source.use_memory, seed=seed, view=source.view_option,
                                representative=source.representative_option, cv_folds=source.cv_folds)
        sub_items = items if rows is None else [items[i] for i in rows] if not isinstance(items, np.ndarray) \
            else items[rows]
        sub_y = y if rows is None else y[rows]
        return pred.fit(sub_items, sub_y, prior=source if use_prior else None, prior_shrink=prior_shrink,
                        catalog=catalog)

    use_prior = True
    cv = None
    if check and len(y) >= 8:
        folds = np.array_split(np.random.default_rng(seed).permutation(len(y)), 5)
        oof = {True: np.zeros(len(y)), False: np.zeros(len(y))}
        for fold in folds:
            rest = np.setdiff1d(np.arange(len(y)), fold)
            held = items[fold] if isinstance(items, np.ndarray) else [items[i] for i in fold]
            for flag in (True, False):
                oof[flag][fold] = make(1, flag, rest).predict(held, use_memory=False)
        cv = {str(flag): float(kendalltau(oof[flag], y).statistic) for flag in (True, False)}
        use_prior = not (cv["False"] > cv["True"])
    pred = make(members or source.n_members, use_prior)
    pred.provenance = {"transfer_from": source.target, "source_n_train": source.n_train,
                       "transfer_used": use_prior, "cv_kendall_tau": cv}
    return pred
