"""Greedy batch selection by expected hypervolume improvement, and the reference point it is measured to.

Each surrogate member is one sample of where a candidate's values may lie; the hypervolume it would
add to the current front, averaged over the samples, is a Monte-Carlo EHVI
(:func:`~hwnas.strategies.improvement.hv_improvement`). A sample that breaks a constraint adds
nothing. Each pick joins the front at its predicted mean ("kriging believer"), so a batch spreads
along the front. Candidates whose most optimistic member adds nothing are screened out first.

The reference point is a quantile (``ref_quantile``) of the predicted objective values over the
predicted-feasible members of the space: the enumerated candidates where the space is enumerated,
else architectures drawn uniformly from it (an inner search's candidates crowd around the predicted
front, and a quantile of theirs would confine the batch to one end of it). The search spends its
budget on architectures better than most members of the space in every objective, the region a
hypervolume at the median (the benchmark score's reference) is decided in. For a quality objective that quantile drifts once the search
has homed in (a surrogate shrinks towards the mean of what was evaluated), so the strategy may
replace it with the space's median read from the predicted *order* (:func:`space_median`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.isotonic import IsotonicRegression

from hwnas.core.objectives import Constraint, Objective
from hwnas.strategies.improvement import hv_improvement
from hwnas.strategies.linas.models import Predictions
from hwnas.strategies.ranking import best_order

_OPS = {"<=": np.less_equal, "<": np.less, ">=": np.greater_equal, ">": np.greater}


def space_median(here: np.ndarray, everywhere: np.ndarray, observed: np.ndarray) -> float:
    """A quality objective's median over the space, in observed (minimised) units, from the predicted order.

    ``here``: predictions of the evaluated architectures, ``everywhere``: predictions of architectures
    drawn uniformly from the space (higher = better quality), ``observed``: the evaluated architectures'
    minimised values. Each evaluated architecture gets its position among the space's, and a monotone
    fit of the observed values on those positions is read at 0.5: sound whenever the predicted order
    is, however shrunk the predicted values.
    """
    everywhere = np.sort(everywhere)
    # a higher prediction is a better quality, i.e. a lower minimised value: positions from the top
    position = 1.0 - np.searchsorted(everywhere, here) / len(everywhere)
    fit = IsotonicRegression(increasing=True, out_of_bounds="clip").fit(position, observed)
    return float(fit.predict([0.5])[0])


class BatchEHVI:
    """Picks a batch from predicted candidates; the region and reference point come from the same predictions."""

    def __init__(self, objectives: Sequence[Objective], constraints: Sequence[Constraint],
                 ref_quantile: float = 0.4, max_candidates_nd: int = 300):
        self.objectives, self.constraints = list(objectives), list(constraints)
        self.ref_quantile = float(ref_quantile)
        #: with more than two objectives, only this many candidates (best predicted first) are scored
        self.max_candidates_nd = int(max_candidates_nd)

    def objective_members(self, pred: dict[str, np.ndarray]) -> np.ndarray:
        """(K, n, d) minimised objective values per member."""
        return np.stack([o.sign * pred[o.metric] for o in self.objectives], axis=-1)

    def feasible_members(self, pred: dict[str, np.ndarray]) -> np.ndarray:
        """(K, n) whether each member predicts every constraint to hold."""
        K, n = next(iter(pred.values())).shape
        ok = np.ones((K, n), dtype=bool)
        for c in self.constraints:
            ok &= _OPS[c.op](pred[c.metric], c.bound)
        return ok

    def violation_of_mean(self, pred: dict[str, np.ndarray]) -> np.ndarray:
        """(n,) total constraint violation of the members' mean."""
        n = next(iter(pred.values())).shape[1]
        v = np.zeros(n)
        for c in self.constraints:
            v += c.violation(pred[c.metric].mean(axis=0))
        return v

    def summarise(self, pred: Predictions) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Predicted mean objectives (n, d), their constraint violation (n,), and the region of interest
        (the predicted-feasible rows when at least 10, else all)."""
        mean_pred = {m: pred.mean(m) for m in pred.latent}
        mean = self.objective_members(mean_pred)[0]
        violation = self.violation_of_mean(mean_pred)
        ok = violation <= 0
        return mean, violation, (mean[ok] if ok.sum() >= 10 else mean)

    def reference(self, region: np.ndarray) -> np.ndarray:
        """The ``ref_quantile`` quantile of the region's predicted objectives (rows: members of the space)."""
        return np.quantile(region, self.ref_quantile, axis=0)

    def select(self, pred: Predictions, mean: np.ndarray, violation: np.ndarray, front: np.ndarray,
               ref: np.ndarray, n: int) -> list[int]:
        """Up to ``n`` candidate indices, greedily by Monte-Carlo EHVI over ``front`` up to ``ref``; when
        nothing is expected to improve, the best predicted rest."""
        d = mean.shape[1]
        # Screen: a candidate whose optimistic corner (best member) improves nothing cannot improve
        # under any member either.
        corner = [o.sign * pred.best(o.metric, larger=o.sign < 0) for o in self.objectives]
        cand = np.flatnonzero(hv_improvement(np.stack(corner, axis=1), front, ref) > 0)
        if d > 2 and len(cand) > self.max_candidates_nd:
            cand = cand[best_order(mean[cand], violation[cand], self.max_candidates_nd)]

        sampled = {m: pred.members(m, cand) for m in pred.latent}
        Y = self.objective_members(sampled)  # (K, c, d) sampled values of the screened candidates
        feas = self.feasible_members(sampled)  # (K, c)
        live = np.arange(len(cand))  # positions in cand still able to improve
        picks: list[int] = []
        fallback: list[int] | None = None
        for _ in range(min(n, len(mean))):
            score = (hv_improvement(Y[:, live], front, ref) * feas[:, live]).mean(axis=0) if len(live) else live
            if len(live) and score.max() > 0:
                best = int(np.argmax(score))
                j = int(live[best])
                keep = score > 0
                keep[best] = False
                live = live[keep]  # improvement only shrinks as the front grows
                i = int(cand[j])
                if feas[:, j].mean() >= 0.5:
                    front = np.vstack([front, mean[i]])  # believe the pick lands at its predicted mean
            else:
                if fallback is None:  # nothing is expected to improve: take the best predicted rest
                    fallback = [int(k) for k in best_order(mean, violation)][::-1]
                i = fallback.pop()
                while i in picks and fallback:
                    i = fallback.pop()
                if i in picks:
                    break
            picks.append(i)
        return picks
