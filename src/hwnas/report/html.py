"""One self-contained HTML file that reports a study and opens offline: settings, the interactive front
plot, hypervolume against evaluations, parallel coordinates (more than two objectives), the front as a
table (with each member's exported model file) and the failures with their reasons.

plotly.js is inlined once, with the first figure; the page loads nothing else. The front and the
hypervolume plots are drawn as the page opens; the parallel-coordinates view (WebGL, a few seconds of
drawing in a browser without a GPU) is drawn when it first scrolls into view, so a 10,000-trial study
opens in seconds. Each figure's div (``front``, ``convergence``, ``parallel``) gets ``data-rendered="1"``
once plotly has drawn it, and ``<html data-rendered="MS">`` records when the figures drawn at opening
were all done (ms after navigation start): what the browser test and ``benchmarks/bench_report.py``
wait on.
"""

from __future__ import annotations

import html
import json
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

from hwnas.core.objectives import Constraint, Objective
from hwnas.report.convergence import convergence, convergence_figure
from hwnas.report.front_figure import front_figure
from hwnas.report.parallel import parallel_figure
from hwnas.report.study_view import StudyView
from hwnas.storage import Storage

_CONFIG = {"displaylogo": False, "responsive": True}
_STYLE = ("body{font-family:sans-serif;max-width:80em;margin:2em auto;padding:0 1em}"
          "table{border-collapse:collapse;margin:0.5em 0}td,th{border:1px solid #ccc;padding:2px 6px;text-align:left;"
          "vertical-align:top}th{background:#f4f4f4}td.num{text-align:right;font-variant-numeric:tabular-nums}"
          "code{font-size:90%;word-break:break-all}.note{color:#555;font-size:90%}")


def _arch_text(space_desc: dict):
    """A formatter for stored architectures: the space's text form when it can be rebuilt (from its name
    and options) into the space described, else JSON."""
    from hwnas.spaces import get_space

    try:
        space = get_space(space_desc["name"], **space_desc.get("options", {}))
        if json.loads(json.dumps(space.describe())) == space_desc:
            return space.format
    except Exception:  # a space with options, or from a plugin not installed: JSON is always readable
        pass
    return lambda a: json.dumps(a, sort_keys=True)


def write_report(storage: Storage, study: str, out: str | Path,
                 models_by_arch: Mapping[str, str] | None = None) -> Path:
    """Write ``out`` for stored study ``study`` and return its path. ``models_by_arch``: architecture text
    (as the space writes it, the ``arch`` column of ``front.csv``) -> exported model file, shown in the
    hover and the front table."""
    fp = storage.load_study(study)
    settings = [("strategy", json.dumps(fp["strategy"])), ("space", fp["space"].get("name", "")),
                ("evaluator", json.dumps(fp["evaluator"]))]
    fmt = _arch_text(fp["space"])
    trials = storage.trials(study)
    by_arch = models_by_arch or {}
    models = {t.number: by_arch[text] for t in trials if by_arch and (text := fmt(t.arch)) in by_arch}
    view = StudyView(study, trials, [Objective.parse(o) for o in fp["objectives"]],
                     [Constraint.parse(c) for c in fp["constraints"]], fmt, models, settings)
    return write_html(view, out)


def write_html(view: StudyView, out: str | Path, kinds: Mapping | None = None) -> Path:
    """Write the report of ``view`` to ``out`` (``kinds``: metric -> MetricKind, for axis units)."""
    figures = []
    if len(view.objectives) >= 2 and view.completed:
        figures.append(("Pareto front", "front", front_figure(view, kinds),
                        "Every evaluated architecture, one point each; hover for its architecture and metrics, "
                        "drag to zoom, click a legend entry to hide it."))
    conv = None
    if view.completed:
        conv = convergence(view.trials, view.objectives, view.constraints, view.true_front)
        figures.append(("Hypervolume against evaluations", "convergence", convergence_figure(conv),
                        "Hypervolume of the feasible front found after each evaluation."))
    if len(view.objectives) > 2 and view.completed:
        figures.append(("All objectives", "parallel", parallel_figure(view),
                        "One line per completed architecture (every front member; of many others, a sample the title states); "
                        "drag along an axis to select a range."))
    parts = [f"<h1>hwnas study {html.escape(view.name)}</h1>", _settings(view, conv)]
    eager = sum(div_id not in _ON_SCROLL for _, div_id, _, _ in figures)
    post = ("var d=document.getElementById('{plot_id}');d.dataset.rendered='1';"
            "d.dataset.renderedAt=String(performance.now());"
            f"if(document.querySelectorAll('.plotly-graph-div[data-rendered]').length=={eager}"
            "&&!document.documentElement.dataset.rendered)"
            "document.documentElement.dataset.rendered=String(performance.now());")
    for i, (title, div_id, fig, note) in enumerate(figures):
        parts.append(f"<h2>{title}</h2><p class='note'>{note}</p>")
        if div_id in _ON_SCROLL:
            if i == 0:
                import plotly.offline

                parts.append(f"<script>{plotly.offline.get_plotlyjs()}</script>")
            parts.append(_on_scroll(fig, div_id, post.replace("{plot_id}", div_id)))
        else:
            parts.append(fig.to_html(full_html=False, include_plotlyjs=i == 0, div_id=div_id, config=_CONFIG,
                                     post_script=post))
    if not eager:
        parts.append("<script>document.documentElement.dataset.rendered=String(performance.now())</script>")
    parts.append(_front_table(view))
    parts.append(_failures(view))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(f"<!doctype html><html><head><meta charset='utf-8'><title>hwnas {html.escape(view.name)}</title>"
                   f"<style>{_STYLE}</style></head><body>{''.join(parts)}</body></html>", encoding="utf-8")
    return out


#: figures drawn when they first scroll into view rather than as the page opens
_ON_SCROLL = ("parallel",)


def _on_scroll(fig, div_id: str, post: str) -> str:
    """``fig`` in a div that plotly draws when it first comes into view (IntersectionObserver)."""
    import plotly.io as pio

    height = fig.layout.height or 450
    spec = pio.to_json(fig, validate=False).replace("</", "<\\/")
    return (f'<div id="{div_id}" class="plotly-graph-div" style="height:{height}px;width:100%"></div>'
            f"<script>(function(){{var el=document.getElementById('{div_id}');var fig={spec};"
            "new IntersectionObserver(function(entries,obs){if(!entries.some(function(e){return e.isIntersecting}))"
            f"return;obs.disconnect();Plotly.newPlot(el,fig.data,fig.layout,{json.dumps(_CONFIG)})"
            f".then(function(){{{post}}});}}).observe(el);}})();</script>")


def _settings(view: StudyView, conv) -> str:
    running = sum(t.state == "running" for t in view.trials)
    rows = [("objectives", ", ".join(map(str, view.objectives))),
            ("constraints", ", ".join(map(str, view.constraints)) or "none"), *view.settings,
            ("evaluations", f"{len(view.trials)} ({len(view.failed)} failed, {len(view.feasible)} feasible"
                            + (f", {running} running" if running else "") + ")"),
            ("front size", str(len(view.front)))]
    if conv is not None:
        rows.append(("hypervolume reference", ", ".join(f"{m} {v:.5g}" for m, v in conv.ref.items())))
    return ("<table><tr><th>setting</th><th>value</th></tr>"
            + "".join(f"<tr><td>{k}</td><td>{html.escape(v)}</td></tr>" for k, v in rows) + "</table>")


def _front_table(view: StudyView) -> str:
    names = view.metric_names
    has_models = any(t.number in view.models for t in view.front)
    head = ("<h2 id='front-table'>Front</h2>"
            f"<p class='note'>{len(view.front)} feasible architectures no other feasible one dominates on "
            + ", ".join(map(str, view.objectives)) + ".</p><table><tr><th>#</th>"
            + "".join(f"<th>{html.escape(n)}</th>" for n in names) + "<th>architecture</th>"
            + ("<th>model</th>" if has_models else "") + "</tr>")
    rows = []
    for t in view.front:
        model = view.models.get(t.number)
        link = f"<td><a href='{html.escape(model)}'>{html.escape(model)}</a></td>" if model else "<td></td>"
        rows.append(f"<tr><td class='num'>{t.number}</td>"
                    + "".join(f"<td class='num'>{t.metrics.get(n, float('nan')):.5g}</td>" for n in names)
                    + f"<td><code>{html.escape(view.arch_text(t))}</code></td>" + (link if has_models else "")
                    + "</tr>")
    return head + "".join(rows) + "</table>"


def _failures(view: StudyView) -> str:
    if not view.failed:
        return "<h2 id='failures'>Failed evaluations</h2><p>none</p>"
    reasons = Counter((t.error or "no reason recorded").splitlines()[0] for t in view.failed)
    summary = "".join(f"<tr><td class='num'>{n}</td><td>{html.escape(r)}</td></tr>" for r, n in reasons.most_common())
    rows = "".join(f"<tr><td class='num'>{t.number}</td><td><code>{html.escape(view.arch_text(t))}</code></td>"
                   f"<td>{html.escape(t.error or 'no reason recorded')}</td></tr>" for t in view.failed)
    return (f"<h2 id='failures'>Failed evaluations ({len(view.failed)})</h2><table><tr><th>count</th><th>reason</th>"
            f"</tr>{summary}</table><table><tr><th>#</th><th>architecture</th><th>error</th></tr>{rows}</table>")
