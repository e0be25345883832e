"""How a search converged: hypervolume of the front found against the number of evaluations.

The hypervolume is shown raw, with its reference point stated, unless the true front is known (a
table that holds the whole search space, or a benchmark): then it is divided by the true front's
hypervolume from the same reference point, so 1.0 means the true front was found. It is never divided
by the run's own final value (which would end every run at 1.0).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hwnas.core.pareto import hypervolume
from hwnas.core.trial import Trial


def hypervolume_curve(trials: Sequence[Trial], objectives, constraints=(),
                      ref: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(evaluation count, hypervolume of the feasible front so far), in minimisation form.

    The reference point ``ref`` (minimisation form) defaults to :func:`reference_point`.
    """
    F = _matrix(trials, objectives, constraints)
    finite = np.isfinite(F).all(axis=1)
    if not finite.any():
        return np.arange(1, len(trials) + 1), np.zeros(len(trials))
    ref = reference_point(F[finite]) if ref is None else np.asarray(ref, dtype=float)
    hv = np.zeros(len(trials))
    front = np.empty((0, F.shape[1]))
    current = 0.0
    for i, f in enumerate(F):  # recomputed only when a point enters the front: a dominated one adds nothing
        if finite[i] and not (front <= f).all(axis=1).any():
            front = np.vstack([front[~(f <= front).all(axis=1)], f])
            current = hypervolume(front, ref)
        hv[i] = current
    return np.arange(1, len(trials) + 1), hv


#: the reference point's quantile of the evaluated values (minimisation form)
REF_QUANTILE = 0.9


def reference_point(F: np.ndarray) -> np.ndarray:
    """The hypervolume reference (minimisation form): each objective's 90th percentile of the evaluated
    values, so the front's trade-off counts (a median reference would drop most of a front whose
    objectives pull apart) while a few very bad architectures don't flatten the curve."""
    return np.quantile(np.asarray(F, dtype=float), REF_QUANTILE, axis=0)


def _matrix(trials, objectives, constraints) -> np.ndarray:
    return np.array([t.values(objectives) if t.feasible(constraints) else [np.nan] * len(objectives)
                     for t in trials], dtype=float).reshape(len(trials), len(objectives))


@dataclass
class Convergence:
    """What the convergence plot shows: ``hv`` after each of ``n`` evaluations, divided by the true
    front's hypervolume when ``normalised``; ``ref`` is the reference point in the metrics' own terms."""

    n: np.ndarray
    hv: np.ndarray
    ref: dict[str, float]
    normalised: bool
    ylabel: str


def convergence(trials: Sequence[Trial], objectives, constraints=(),
                true_front: np.ndarray | None = None) -> Convergence:
    """The convergence curve of ``trials``; ``true_front`` (rows of objective values in the metrics' own
    terms, one column per objective) normalises it."""
    F = _matrix(trials, objectives, constraints)
    finite = np.isfinite(F).all(axis=1)
    ref = reference_point(F[finite]) if finite.any() else np.zeros(len(objectives))
    n, hv = hypervolume_curve(trials, objectives, constraints, ref)
    shown = {o.metric: float(o.sign * r) for o, r in zip(objectives, ref)}
    ref_text = ", ".join(f"{m} {v:.4g}" for m, v in shown.items())
    if true_front is not None and len(true_front):
        signs = np.array([o.sign for o in objectives], dtype=float)
        best = hypervolume(np.asarray(true_front, dtype=float).reshape(-1, len(objectives)) * signs, ref)
        if best > 0:
            return Convergence(n, hv / best, shown, True,
                               f"hypervolume / true front's\n(ref: {ref_text})")
    return Convergence(n, hv, shown, False, f"hypervolume\n(ref: {ref_text}, the 90th percentile evaluated)")


def convergence_figure(c: Convergence):
    """The interactive (plotly) plot of ``c``: the hypervolume as a step line, one vertex per change, so a
    10,000-evaluation study draws only the evaluations that moved the front."""
    import plotly.graph_objects as go

    n, hv = np.asarray(c.n), np.asarray(c.hv, dtype=float)
    keep = np.ones(len(n), dtype=bool)
    if len(n) > 2:
        keep[1:-1] = hv[1:-1] != hv[:-2]
    fig = go.Figure(go.Scatter(x=n[keep], y=hv[keep], mode="lines+markers", line_shape="hv",
                               marker={"size": 4}, name="hypervolume",
                               hovertemplate="after %{x} evaluations: %{y:.5g}<extra></extra>"))
    if c.normalised:
        fig.add_hline(y=1.0, line_dash="dash", line_color="grey", annotation_text="true front")
    axis_title, _, ref = c.ylabel.partition("\n")
    fig.update_layout(xaxis_title="distinct evaluations", yaxis_title=axis_title,
                      title={"text": ref, "font": {"size": 12}}, height=380, margin={"t": 40, "b": 50},
                      template="plotly_white", showlegend=False)
    if c.normalised:
        fig.update_yaxes(range=[0, 1.05])
    return fig
