"""The report in a real browser: headless chromium (Debian's, driven by Playwright) opens it from
``file://`` with every other request aborted, and nothing on the page may fail.

Needs ``/usr/bin/chromium`` (or ``$HWNAS_CHROMIUM``) and the ``playwright`` package; ``.ci/run``
installs chromium. Without them the tests skip, except in CI (``$CI`` set), where they fail. The
full-page screenshot is kept in ``$HWNAS_ARTIFACTS`` when set, else in the test's tmp folder (the path
is printed).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from study_fixtures import FlakyEvaluator, ProbeStrategy

from hwnas.app.report import write_study_report
from hwnas.core.objectives import Constraint, Objective
from hwnas.evaluators.table import TableEvaluator
from hwnas.spaces.nb201 import NB201Space
from hwnas.storage import SQLStorage
from hwnas.study import Study

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("HWNAS_CHROMIUM", "/usr/bin/chromium")


def _unavailable(why: str):
    if os.environ.get("CI"):
        pytest.fail(f"{why}: CI must run the browser tests (.ci/run installs chromium; playwright is in the dev extra)")
    pytest.skip(why)


@pytest.fixture(scope="module")
def chromium():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (pip install 'hwnas[dev]')")
    if not Path(CHROMIUM).is_file():
        _unavailable(f"no chromium at {CHROMIUM} (Debian: apt-get install chromium)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"] if os.geteuid() == 0 else [])
        yield browser
        browser.close()


def _study(tmp_path, table, objectives, columns):
    ev = FlakyEvaluator(TableEvaluator(table, NB201Space(), columns=columns), every=6, mode="failed")
    study = Study(NB201Space(), ev, objectives, ProbeStrategy(), constraints=[Constraint.parse("lat_ms <= 9")],
                  storage=SQLStorage(tmp_path / "s.db"), name="browser")
    study.optimize(48)
    return study


class Page:
    """A page that records every page error, console error and request it had to abort."""

    def __init__(self, browser, path: Path):
        self.page = browser.new_page(viewport={"width": 1280, "height": 900})
        self.errors: list[str] = []
        self.blocked: list[str] = []
        self.page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        self.page.on("console", lambda m: self.errors.append(f"console {m.type}: {m.text}")
                     if m.type == "error" else None)
        self.page.route("**/*", self._route)
        self.page.goto(path.resolve().as_uri(), wait_until="load")
        self.page.wait_for_function("document.documentElement.dataset.rendered", timeout=60_000)

    def _route(self, route):
        if route.request.url.startswith("file:"):
            route.continue_()
        else:
            self.blocked.append(route.request.url)
            route.abort()

    def traces(self, div: str) -> list[dict]:
        """Name, point count and trial numbers (``customdata[i][0]``) of each trace plotly drew in ``div``."""
        return self.page.evaluate("""div => document.getElementById(div)._fullData.map(t => ({
            name: t.name, type: t.type, n: t._length || 0,
            numbers: t.customdata ? Array.from(t.customdata, row => row[0]) : []}))""", div)


def _artifact(tmp_path, name: str) -> Path:
    folder = Path(os.environ.get("HWNAS_ARTIFACTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name


@pytest.mark.parametrize("n_objectives", [2, 3])
def test_the_report_opens_offline_and_plots_every_evaluated_architecture(tmp_path, chromium, synthetic_nb201_table,
                                                                         n_objectives):
    table = synthetic_nb201_table.assign(mem=synthetic_nb201_table["lat_ms"] % 3 + 0.1 * synthetic_nb201_table["acc"])
    objectives = [Objective("acc", "max"), Objective("lat_ms", "min"), Objective("mem", "min")][:n_objectives]
    study = _study(tmp_path, table, objectives, ["acc", "lat_ms", "mem"])
    completed = {t.number for t in study.trials if t.ok}
    front = {t.number for t in study.pareto_front()}
    assert len(completed) == 40 and len(study.trials) == 48  # the failures are in the study, not on the plot
    path = write_study_report(tmp_path / "s.db", tmp_path / "report.html")
    page = Page(chromium, path)

    traces = page.traces("front")
    numbers = [n for t in traces for n in t["numbers"]]
    assert sum(t["n"] for t in traces) == len(completed)  # one point per evaluated architecture
    assert sorted(numbers) == sorted(completed)
    assert all(t["type"] == "scattergl" for t in traces)
    on_front = [n for t in traces if t["name"].startswith(("Pareto front", "front,")) for n in t["numbers"]]
    assert sorted(on_front) == sorted(front)
    assert page.page.evaluate("document.getElementById('front').layout.shapes.length") == 1  # lat_ms <= 9

    # the mouse over the first front point: the hover names its trial, architecture and metrics
    best = next(t for t in traces if t["name"].startswith("Pareto front"))
    x, y = page.page.evaluate("""i => {
        const gd = document.getElementById('front'), t = gd._fullData[i], L = gd._fullLayout;
        const box = gd.querySelector('.nsewdrag').getBoundingClientRect();
        return [box.left + L.xaxis.l2p(t.x[0]), box.top + L.yaxis.l2p(t.y[0])]; }""", traces.index(best))
    page.page.mouse.move(x, y)
    page.page.wait_for_selector("#front .hoverlayer .hovertext", state="attached")
    label = page.page.evaluate("document.querySelector('#front .hoverlayer').textContent")
    first = next(t for t in study.trials if t.number == best["numbers"][0])
    here = [t for t in study.trials if t.ok and (t.metrics["acc"], t.metrics["lat_ms"]) ==
            (first.metrics["acc"], first.metrics["lat_ms"])]  # points drawn on the same spot
    assert any(f"#{t.number}" in label and NB201Space().format(t.arch) in label for t in here), label
    assert f"acc {first.metrics['acc']:.5g}" in label and f"lat_ms {first.metrics['lat_ms']:.5g}" in label

    assert page.page.evaluate("document.getElementById('convergence').dataset.rendered") == "1"
    if n_objectives > 2:  # drawn once scrolled into view
        assert page.page.evaluate("document.getElementById('parallel').dataset.rendered") is None
        page.page.locator("#parallel").scroll_into_view_if_needed()
        page.page.wait_for_function("document.getElementById('parallel').dataset.rendered", timeout=60_000)
        dims = page.page.evaluate("document.getElementById('parallel')._fullData[0].dimensions"
                                  ".map(d => [d.label, d._length])")
        assert [d[0].split(" ")[0] for d in dims] == ["acc", "lat_ms", "mem"]
        assert all(d[1] == len(completed) for d in dims)
    else:
        assert page.page.locator("#parallel").count() == 0
    shot = _artifact(tmp_path, f"report_{n_objectives}obj.png")
    page.page.screenshot(path=str(shot), full_page=True)
    print(f"screenshot: {shot}")
    assert shot.stat().st_size > 20_000
    assert page.errors == [] and page.blocked == []


def test_a_request_leaving_the_file_is_blocked_and_reported(tmp_path, chromium):
    """The guard itself: a page that reaches out is caught (so an empty list above means something)."""
    path = tmp_path / "leaky.html"
    path.write_text("<!doctype html><html><body><img src='https://example.com/x.png'>"
                    "<script>document.documentElement.dataset.rendered='1'</script></body></html>")
    page = Page(chromium, path)
    page.page.wait_for_load_state("networkidle")
    assert page.blocked == ["https://example.com/x.png"]
    assert any("console error" in e for e in page.errors)  # the aborted load is a console error
