"""The parallel-coordinates view of a study with more than two objectives: one line per completed
architecture across every objective and constrained metric, coloured front / feasible / infeasible.

An axis per metric, named with its direction; a constrained metric's axis says its bound. Lines with a
missing or non-finite value cannot be drawn on every axis and are counted in the title instead. Drag
along an axis to select a range (plotly's brushing) and see which architectures pass.

Every front member is drawn; of the other architectures at most :data:`MAX_LINES` (a seeded uniform
sample, stated in the title), because the browser redraws every line on each brush and more lines only
darken the same bands while the page takes seconds longer to open.
"""

from __future__ import annotations

import numpy as np

from hwnas.report.study_view import StudyView

#: most lines drawn besides the front's
MAX_LINES = 2000
#: line colours: infeasible, feasible off the front, front
_COLORS = ["#d0d0d0", "#7f9fbf", "#d62728"]


def parallel_figure(view: StudyView):
    """The parallel-coordinates plot of ``view``'s completed trials as a plotly figure."""
    import plotly.graph_objects as go

    names = view.metric_names
    V = np.array([[t.metrics.get(m, np.nan) for m in names] for t in view.completed],
                 dtype=float).reshape(-1, len(names))
    drawn = np.isfinite(V).all(axis=1)
    ok = {t.number for t in view.feasible}
    group = np.array([2 if t.number in view.front_numbers else 1 if t.number in ok else 0
                      for t in view.completed], dtype=float)[drawn]
    V = V[drawn]
    rest = np.flatnonzero(group < 2)
    shown = np.ones(len(group), dtype=bool)
    if len(rest) > MAX_LINES:
        shown[rest] = False
        shown[np.random.default_rng(0).choice(rest, MAX_LINES, replace=False)] = True
    order = np.flatnonzero(shown)[np.argsort(group[shown], kind="stable")]  # the front drawn last, on top
    total = {g: int((group == g).sum()) for g in (0, 1, 2)}
    group, V = group[order], V[order]
    directions = {o.metric: o.direction for o in view.objectives}
    bounds = {}
    for c in view.constraints:
        bounds.setdefault(c.metric, []).append(f"{c.op} {c.bound:g}")
    dims = []
    for i, m in enumerate(names):
        parts = [directions[m]] if m in directions else []
        parts += bounds.get(m, [])
        dims.append({"label": f"{m} ({', '.join(parts)})", "values": V[:, i]})
    scale = [[0.0, _COLORS[0]], [0.33, _COLORS[0]], [0.34, _COLORS[1]], [0.66, _COLORS[1]],
             [0.67, _COLORS[2]], [1.0, _COLORS[2]]]
    fig = go.Figure(go.Parcoords(line={"color": group, "colorscale": scale, "cmin": 0, "cmax": 2},
                                 dimensions=dims))
    skipped = int((~drawn).sum())
    title = f"{total[2]} front (red), {total[1]} feasible (blue), {total[0]} infeasible (grey)"
    if len(group) < sum(total.values()):
        title += f"; all the front and {len(group) - total[2]} others (a uniform sample) drawn"
    if skipped:
        title += f"; {skipped} with a missing value not drawn"
    fig.update_layout(title={"text": title, "font": {"size": 12}}, height=460, margin={"l": 80, "r": 80, "t": 80})
    return fig
