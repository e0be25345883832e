"""Few-shot transfer of a latency/energy predictor to a new device or runtime.

A predictor fitted on a source device (many measurements) already knows which
operations cost time relative to each other; a new device mostly rescales
those costs and shifts a few. So the target model is the same additive model,
started from the source's mean coefficients rescaled to the target's level and
pulled towards them (every group, the intercept included) while ~20 target
measurements correct what differs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

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
) -> LatencyPredictor:
    """A predictor for ``target`` fitted on a few target measurements with ``source`` as the prior."""
    if not source.fitted:
        raise CostModelError("transfer source predictor is not fitted")
    pred = LatencyPredictor(
        space=source.space_name,
        target=target or source.target,
        members=members or source.n_members,
        shrink=source.shrink,
        robust_scale=source.robust_scale,
        memory=source.use_memory,
        seed=seed,
    )
    pred.fit(items, y, prior=source, prior_shrink=dict(TRANSFER_SHRINK if shrink is None else shrink))
    pred.provenance = {"transfer_from": source.target, "source_n_train": source.n_train}
    return pred
