"""A PNG plot of a search a person can read: every evaluated architecture and the Pareto front.

* Axes are named by metric, unit and direction (``lat_ms (ms, min)``, ``cifar10_acc (max)``), from the
  evaluator's declared metric kinds (:func:`axis`).
* Only points non-dominated *on the two plotted metrics* are drawn as the front (filled, joined by a
  staircase); other front members (Pareto-optimal through a third objective, or a second series such
  as test accuracy that the search did not choose on) are drawn hollow and labelled so.
* The view is zoomed on the front's region: the window spans the front and the evaluated points
  inside Tukey's fences (1.5 IQR beyond the quartiles) of each axis; points outside are drawn at the
  window's edge as triangles pointing outward, and a note says how many.

:func:`plot_front` returns what it drew (:class:`FrontPlot`), so tests check the data, not pixels.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

#: how far beyond the quartiles (in IQRs) a point may lie and still set the window
FENCE = 1.5


@dataclass(frozen=True)
class Axis:
    """One plotted metric: its name, the direction it is optimised in, its unit and a note."""

    metric: str
    direction: str = "min"  # "min" or "max"
    unit: str = ""
    note: str = ""

    @property
    def label(self) -> str:
        inside = ", ".join(p for p in (self.unit, self.note, self.direction) if p)
        return f"{self.metric} ({inside})" if inside else self.metric

    @property
    def sign(self) -> float:
        """+1 for a metric to minimise, -1 for one to maximise."""
        return 1.0 if self.direction == "min" else -1.0


def axis(objective, kinds: Mapping | None = None, note: str = "") -> Axis:
    """The axis of an objective (``Objective`` or ``"metric:max"`` text), its unit from ``kinds``
    (metric -> :class:`~hwnas.evaluators.base.MetricKind`; read from the name when not given)."""
    from hwnas.core.objectives import Objective
    from hwnas.evaluators.base import kind_from_name

    o = objective if isinstance(objective, Objective) else Objective.parse(str(objective))
    kind = (kinds or {}).get(o.metric) or kind_from_name(o.metric)
    return Axis(o.metric, o.direction, kind.unit, note)


@dataclass
class FrontSeries:
    """Front members to draw. ``against_evaluated``: a member is marked as front only if no evaluated point
    dominates it either (the searched metric); False judges the series only among itself (a metric
    measured on the front members alone, such as test accuracy)."""

    label: str
    points: Sequence[tuple[float, float]]
    against_evaluated: bool = True


@dataclass
class DrawnFront:
    label: str
    marked: list[tuple[float, float]] = field(default_factory=list)  # drawn as the front: non-dominated here
    dominated: list[tuple[float, float]] = field(default_factory=list)  # drawn hollow: dominated on these axes


@dataclass
class FrontPlot:
    """What :func:`plot_front` drew."""

    path: Path
    xlabel: str
    ylabel: str
    window: tuple[tuple[float, float], tuple[float, float]]
    outside: int  # points drawn at the window's edge
    fronts: list[DrawnFront]


def nondominated(points: np.ndarray, x: Axis, y: Axis, against: np.ndarray | None = None) -> np.ndarray:
    """Mask of ``points`` (n, 2) that no row of ``points`` or ``against`` dominates on (x, y)."""
    p = np.asarray(points, dtype=float).reshape(-1, 2) * [x.sign, y.sign]
    ref = p if against is None or len(against) == 0 else np.vstack(
        [p, np.asarray(against, dtype=float).reshape(-1, 2) * [x.sign, y.sign]])
    le = (ref[None, :, :] <= p[:, None, :]).all(axis=2)
    lt = (ref[None, :, :] < p[:, None, :]).any(axis=2)
    return ~(le & lt).any(axis=1)


def window(values: np.ndarray, keep: np.ndarray) -> tuple[float, float]:
    """The shown range of one axis: the ``keep`` values (the front) and ``values`` inside Tukey's fences."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    keep = np.asarray(keep, dtype=float)
    keep = keep[np.isfinite(keep)]
    if len(values) == 0 and len(keep) == 0:
        return 0.0, 1.0
    if len(values):
        q1, q3 = np.percentile(values, [25, 75])
        inside = values[(values >= q1 - FENCE * (q3 - q1)) & (values <= q3 + FENCE * (q3 - q1))]
    else:
        inside = values
    both = np.concatenate([inside, keep])
    lo, hi = float(both.min()), float(both.max())
    pad = 0.04 * (hi - lo) if hi > lo else max(abs(lo) * 0.05, 1e-9)
    return lo - pad, hi + pad


def plot_front(path: str | Path, x: Axis, y: Axis, evaluated: Sequence[tuple[float, float]] = (),
               fronts: Sequence[FrontSeries] = (), title: str | None = None,
               infeasible: Sequence[tuple[float, float]] = ()) -> FrontPlot:
    """Scatter ``evaluated`` (grey; ``infeasible`` ones as grey crosses) and each of ``fronts``; write ``path``."""
    path = Path(path)
    ev = np.asarray(evaluated, dtype=float).reshape(-1, 2)
    bad = np.asarray(infeasible, dtype=float).reshape(-1, 2)
    drawn = []
    for s in fronts:
        pts = np.asarray(s.points, dtype=float).reshape(-1, 2)
        mask = nondominated(pts, x, y, ev if s.against_evaluated else None) if len(pts) else np.zeros(0, bool)
        drawn.append(DrawnFront(s.label, [tuple(map(float, p)) for p in pts[mask]],
                                [tuple(map(float, p)) for p in pts[~mask]]))
    front_pts = np.array([p for d in drawn for p in d.marked + d.dominated], dtype=float).reshape(-1, 2)
    every = np.vstack([ev, bad, front_pts])
    xlim = window(every[:, 0], front_pts[:, 0])
    ylim = window(every[:, 1], front_pts[:, 1])

    fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=120)
    outside = 0

    def scatter(pts, **kw):
        nonlocal outside
        if len(pts) == 0:
            return
        pts = np.asarray(pts, dtype=float).reshape(-1, 2)
        inx = (pts[:, 0] >= xlim[0]) & (pts[:, 0] <= xlim[1])
        iny = (pts[:, 1] >= ylim[0]) & (pts[:, 1] <= ylim[1])
        ok = inx & iny
        ax.scatter(pts[ok, 0], pts[ok, 1], **kw)
        out = pts[~ok]
        outside += len(out)
        for px, py in out:  # at the edge, pointing to where the point lies
            cx, cy = np.clip(px, *xlim), np.clip(py, *ylim)
            marker = ("<" if px < xlim[0] else ">") if not xlim[0] <= px <= xlim[1] else ("v" if py < ylim[0] else "^")
            ax.scatter([cx], [cy], marker=marker, s=30, c="0.45", clip_on=False, zorder=4)

    scatter(ev, s=12, c="0.65", label=f"evaluated ({len(ev)})")
    scatter(bad, s=14, c="0.75", marker="x", label=f"infeasible ({len(bad)})")
    colors = ["tab:red", "tab:blue", "tab:green", "tab:purple"]
    for d, color in zip(drawn, colors * 4):
        if d.marked:
            fx, fy = zip(*sorted(d.marked, key=lambda p: (p[0] * x.sign, p[1] * y.sign)))
            ax.step(fx, fy, where="post", c=color, lw=1.1, alpha=0.8)
        scatter(d.marked, s=30, c=color, zorder=3, label=f"{d.label} ({len(d.marked)})")
        scatter(d.dominated, s=30, facecolors="none", edgecolors=color, zorder=3,
                label=f"{d.label}, dominated on these axes ({len(d.dominated)})")
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_xlabel(x.label)
    ax.set_ylabel(y.label)
    note = f"{outside} point(s) outside this window, drawn at its edge as triangles" if outside else ""
    if title or note:
        ax.set_title("\n".join(t for t in (title, note) if t), fontsize=10 if not note else 9)
    ax.grid(alpha=0.3)
    # below the axes, so it never hides points or the front
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, fontsize=7, frameon=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    return FrontPlot(path, x.label, y.label, (xlim, ylim), outside, drawn)
