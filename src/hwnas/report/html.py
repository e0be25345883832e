"""A self-contained HTML report of a stored study: settings, front plot, convergence, front and failures."""

from __future__ import annotations

import base64
import html
import json
import tempfile
from pathlib import Path

from hwnas.core.objectives import Constraint, Objective
from hwnas.core.pareto import nondominated_mask
from hwnas.report.convergence import plot_convergence
from hwnas.report.front_plot import FrontSeries, axis, plot_front
from hwnas.storage import Storage


def _img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img src="data:image/png;base64,{data}">'


def _arch_text(space_desc: dict):
    """A formatter for stored architectures: the space's text form when it can be rebuilt, else JSON."""
    from hwnas.spaces import get_space

    try:
        space = get_space(space_desc["name"])
        if space.describe() == space_desc:
            return space.format
    except Exception:  # a space with options, or from a plugin not installed: JSON is always readable
        pass
    return lambda a: json.dumps(a, sort_keys=True)


def plotted_objectives(objectives: list[Objective]) -> tuple[Objective, Objective]:
    """(y, x) of the front plot: the first quality objective against the first cost objective (kinds read
    from the metric names), else the first two objectives."""
    from hwnas.evaluators.base import kind_from_name

    costs = [o for o in objectives if kind_from_name(o.metric).is_cost]
    quality = [o for o in objectives if not kind_from_name(o.metric).is_cost]
    if costs and quality:
        return quality[0], costs[0]
    return objectives[0], objectives[1]


def write_report(storage: Storage, study: str, out: str | Path) -> Path:
    """Write ``out`` (HTML, images inlined) for ``study`` and return its path."""
    fp = storage.load_study(study)
    trials = storage.trials(study)
    objectives = [Objective.parse(o) for o in fp["objectives"]]
    constraints = [Constraint.parse(c) for c in fp["constraints"]]
    fmt = _arch_text(fp["space"])
    feasible = [t for t in trials if t.feasible(constraints)]
    front = []
    if feasible:
        import numpy as np

        F = np.stack([t.values(objectives) for t in feasible])
        front = sorted([t for t, k in zip(feasible, nondominated_mask(F)) if k],
                       key=lambda t: tuple(t.values(objectives)))
    failed = [t for t in trials if t.state == "failed"]
    names = [o.metric for o in objectives] + [c.metric for c in constraints if c.metric not in
                                              [o.metric for o in objectives]]
    parts = [f"<h1>hwnas study {html.escape(study)}</h1>",
             "<table><tr><th>setting</th><th>value</th></tr>"]
    for k, v in [("objectives", ", ".join(map(str, objectives))),
                 ("constraints", ", ".join(map(str, constraints)) or "none"),
                 ("strategy", json.dumps(fp["strategy"])), ("space", fp["space"]["name"]),
                 ("evaluator", json.dumps(fp["evaluator"])),
                 ("evaluations", f"{len(trials)} ({len(failed)} failed, {len(feasible)} feasible)"),
                 ("front size", str(len(front)))]:
        parts.append(f"<tr><td>{k}</td><td>{html.escape(v)}</td></tr>")
    parts.append("</table>")
    with tempfile.TemporaryDirectory() as tmp:
        if len(objectives) >= 2 and feasible:
            yo, xo = plotted_objectives(objectives)
            plot = plot_front(
                Path(tmp) / "front.png", axis(xo), axis(yo),
                evaluated=[(t.metrics[xo.metric], t.metrics[yo.metric]) for t in feasible],
                fronts=[FrontSeries("Pareto front", [(t.metrics[xo.metric], t.metrics[yo.metric]) for t in front])],
                infeasible=[(t.metrics[xo.metric], t.metrics[yo.metric]) for t in trials
                            if t.ok and not t.feasible(constraints) and xo.metric in t.metrics
                            and yo.metric in t.metrics])
            parts.append("<h2>Pareto front</h2>" + _img(plot.path))
        if trials:
            parts.append("<h2>Convergence</h2>" + _img(plot_convergence(trials, objectives, constraints,
                                                                         Path(tmp) / "conv.png")))
    parts.append("<h2>Front</h2><table><tr><th>#</th>" + "".join(f"<th>{html.escape(n)}</th>" for n in names)
                 + "<th>architecture</th></tr>")
    for t in front:
        parts.append(f"<tr><td>{t.number}</td>" + "".join(f"<td>{t.metrics.get(n, float('nan')):.5g}</td>"
                                                           for n in names)
                     + f"<td><code>{html.escape(fmt(t.arch))}</code></td></tr>")
    parts.append("</table>")
    if failed:
        parts.append("<h2>Failed evaluations</h2><table><tr><th>#</th><th>architecture</th><th>error</th></tr>")
        for t in failed:
            parts.append(f"<tr><td>{t.number}</td><td><code>{html.escape(fmt(t.arch))}</code></td>"
                         f"<td>{html.escape(t.error or '')}</td></tr>")
        parts.append("</table>")
    style = ("<style>body{font-family:sans-serif;max-width:70em;margin:2em auto}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}code{font-size:90%}</style>")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(f"<!doctype html><html><head><meta charset='utf-8'><title>hwnas {html.escape(study)}</title>"
                   f"{style}</head><body>{''.join(parts)}</body></html>")
    return out
