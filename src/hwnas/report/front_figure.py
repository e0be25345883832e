"""The interactive (plotly) front plot: every evaluated architecture, one point each, on the plotted pair
of objectives, with the Pareto front highlighted and the constraints drawn.

Four marker traces partition the completed trials (the browser test counts on it): ``evaluated``
(feasible, off the front), ``infeasible`` (crosses; hover names the broken constraints), ``Pareto
front`` (filled, joined by a staircase) and ``front, dominated on these axes`` (hollow: optimal only
through a third objective). Each point's ``customdata`` starts with its trial number, then the values
of the metrics the axes do not show; the hover text is the architecture (and, for front members, the
exported model file). Point clouds use WebGL (``Scattergl``) so 10,000 points draw at once. A
constraint on a plotted metric is a dashed line at its bound. The initial view is zoomed on the front's
region (:func:`~hwnas.report.front_plot.window`); a double click shows everything.
"""

from __future__ import annotations

import numpy as np

from hwnas.report.front_plot import Axis, axis, nondominated, window
from hwnas.report.study_view import StudyView, plotted_objectives

#: longest architecture text in a hover label (the front table holds the whole text)
HOVER_ARCH_CHARS = 160


def front_figure(view: StudyView, kinds=None):
    """The front plot of ``view`` (needs two objectives or more) as a plotly figure."""
    import plotly.graph_objects as go

    yo, xo = plotted_objectives(view.objectives)
    x, y = axis(xo, kinds), axis(yo, kinds)
    extra = [m for m in view.metric_names if m not in (x.metric, y.metric)]
    plotted = [t for t in view.completed if x.metric in t.metrics and y.metric in t.metrics]
    ok = {t.number for t in view.feasible}
    infeasible = [t for t in plotted if t.number not in ok]
    feasible = [t for t in plotted if t.number in ok]
    front = [t for t in feasible if t.number in view.front_numbers]
    others = [t for t in feasible if t.number not in view.front_numbers]
    pts = np.array([[t.metrics[x.metric], t.metrics[y.metric]] for t in front], dtype=float).reshape(-1, 2)
    ev = np.array([[t.metrics[x.metric], t.metrics[y.metric]] for t in feasible], dtype=float).reshape(-1, 2)
    mask = nondominated(pts, x, y, ev) if len(pts) else np.zeros(0, dtype=bool)
    marked = sorted([t for t, k in zip(front, mask) if k],
                    key=lambda t: (x.sign * t.metrics[x.metric], y.sign * t.metrics[y.metric]))
    hollow = [t for t, k in zip(front, mask) if not k]

    hover = (f"#%{{customdata[0]}}<br>{x.metric} %{{x:.5g}}<br>{y.metric} %{{y:.5g}}"
             + "".join(f"<br>{m} %{{customdata[{i + 1}]:.5g}}" for i, m in enumerate(extra))
             + "<br>%{text}<extra>%{fullData.name}</extra>")

    def trace(trials, name, note=lambda t: "", **style):
        custom = np.array([[t.number] + [t.metrics.get(m, np.nan) for m in extra] for t in trials],
                          dtype=float).reshape(len(trials), 1 + len(extra))
        return go.Scattergl(
            x=np.array([t.metrics[x.metric] for t in trials], dtype=float),
            y=np.array([t.metrics[y.metric] for t in trials], dtype=float),
            customdata=custom, text=[view.arch_text(t, HOVER_ARCH_CHARS) + note(t) for t in trials],
            name=f"{name} ({len(trials)})", hovertemplate=hover, **style)

    def model(t):
        return f"<br>model: {view.models[t.number]}" if t.number in view.models else ""

    def broken(t):
        return "<br>breaks " + ", ".join(str(c) for c in view.violated(t))

    fig = go.Figure([
        trace(others, "evaluated", mode="markers", marker={"size": 5, "color": "#9a9a9a", "opacity": 0.6}),
        trace(infeasible, "infeasible", broken, mode="markers",
              marker={"size": 6, "color": "#c8c8c8", "symbol": "x"}),
        trace(marked, "Pareto front", model, mode="lines+markers", line={"shape": "hv", "color": "#d62728"},
              marker={"size": 8, "color": "#d62728"}),
        trace(hollow, "front, dominated on these axes", model, mode="markers",
              marker={"size": 8, "color": "rgba(0,0,0,0)", "line": {"color": "#d62728", "width": 1.5}}),
    ])
    for c in view.constraints:
        if c.metric in (x.metric, y.metric):
            line = fig.add_vline if c.metric == x.metric else fig.add_hline
            line(c.bound, line_dash="dash", line_color="#1f77b4", annotation_text=str(c),
                 annotation_font_color="#1f77b4")
    _zoom(fig, x, y, np.array([[t.metrics[x.metric], t.metrics[y.metric]] for t in plotted],
                              dtype=float).reshape(-1, 2), pts, view.constraints)
    fig.update_layout(xaxis_title=x.label, yaxis_title=y.label, height=560, template="plotly_white",
                      legend={"orientation": "h", "y": -0.15}, margin={"t": 40},
                      hoverlabel={"align": "left"}, uirevision="front")
    return fig


def _zoom(fig, x: Axis, y: Axis, every: np.ndarray, front: np.ndarray, constraints) -> None:
    """Start zoomed on the front and the points inside Tukey's fences (and the constraints' bounds);
    say how many points lie outside."""
    if not len(every):
        return
    bounds = {c.metric: c.bound for c in constraints}
    ranges = []
    for i, a in enumerate((x, y)):
        keep = front[:, i] if len(front) else every[:0, i]
        if a.metric in bounds:
            keep = np.append(keep, bounds[a.metric])
        ranges.append(window(every[:, i], keep))
    (x0, x1), (y0, y1) = ranges
    outside = int((~((every[:, 0] >= x0) & (every[:, 0] <= x1) & (every[:, 1] >= y0) & (every[:, 1] <= y1))).sum())
    fig.update_xaxes(range=[x0, x1])
    fig.update_yaxes(range=[y0, y1])
    if outside:
        fig.update_layout(title={"text": f"zoomed on the front: {outside} point(s) outside this view "
                                         "(double-click to show all)", "font": {"size": 12}})
