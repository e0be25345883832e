"""How fast the interactive report of a large study opens in a real browser.

Generates studies of ``--trials`` distinct MobileNet-space architectures (metrics computed from the
blocks plus noise; a latency constraint that about a fifth break; one evaluation in 13 failed, with two
kinds of reason), with 2 and with 3 objectives, writes each report with
``hwnas.report.html.write_report`` and opens it ``--repeats`` times from ``file://`` in headless
chromium (Playwright, every non-``file:`` request aborted). The figure is the page's own
``data-rendered`` stamp: milliseconds from navigation start until plotly has drawn the figures shown
at opening (front, hypervolume); the ``load`` event (the whole page parsed, tables included) is
reported beside it. The parallel-coordinates view of a 3-objective study is drawn when
scrolled into view; it is timed separately, from the scroll. Also checks that the front plot holds
one point per completed architecture.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_report.py --trials 10000 --repeats 3 \
        --out benchmarks/results/bench_report.md

Needs chromium at ``--chromium`` (Debian: ``apt-get install chromium``) and ``pip install playwright``.
Software WebGL (SwiftShader) in headless chromium is slower than a desktop browser with a GPU, so the
figure is an upper bound for a person opening the file.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from hwnas.core.objectives import Constraint, Objective
from hwnas.core.trial import COMPLETE, FAILED, Trial
from hwnas.report.html import write_report
from hwnas.spaces.mobilenet import MobileNetSpace
from hwnas.storage import InMemoryStorage

REASONS = ("EvaluationFailed: device unreachable", "RuntimeError: ONNX export failed: unsupported op")


def synthetic_study(n: int, n_objectives: int, seed: int = 0) -> tuple[InMemoryStorage, str]:
    """A stored study of ``n`` distinct MobileNet-space architectures with ``n_objectives`` objectives
    (acc, lat_ms[, mem_mb]); metrics grow with the blocks' width, depth, kernel and expansion, plus noise."""
    space = MobileNetSpace()
    rng = np.random.default_rng(seed)
    archs: dict[str, dict] = {}
    while len(archs) < n:
        a = space.sample(rng)
        archs.setdefault(space.key(a), a)
    objectives = [Objective("acc", "max"), Objective("lat_ms", "min"), Objective("mem_mb", "min")][:n_objectives]
    constraints = [Constraint.parse("lat_ms <= 9")]
    name = f"synthetic{n_objectives}"
    storage = InMemoryStorage()
    storage.open_study(name, {"space": space.describe(), "evaluator": {"name": "synthetic"},
                              "objectives": [str(o) for o in objectives],
                              "constraints": [str(c) for c in constraints],
                              "strategy": {"name": "random", "options": {}}, "seed": seed})
    for i, (key, a) in enumerate(archs.items()):
        blocks = [(a[f"s{s}_b{b}_kernel"], a[f"s{s}_b{b}_expand"]) for s in (1, 2, 3)
                  for b in range(1, a[f"s{s}_depth"] + 1)]
        work = a["width"] * sum(k * k * e for k, e in blocks) / 50
        metrics = {"acc": 55 + 12 * np.log1p(work) + rng.normal(0, 1.5), "lat_ms": 1 + 0.6 * work + rng.gamma(2, 0.3),
                   "mem_mb": 0.5 + a["width"] * sum(e for _, e in blocks) / 4 + rng.gamma(2, 0.2)}
        if i % 13 == 12:
            t = Trial(i, key, a, FAILED, error=REASONS[(i // 13) % 2])
        else:
            t = Trial(i, key, a, COMPLETE, {m: float(v) for m, v in metrics.items()})
        storage.write(name, t)
    return storage, name


def open_times(path: Path, repeats: int, chromium: str) -> tuple[list[float], list[float], list[float], int]:
    """Per repeat: milliseconds until the figures drawn at opening are drawn, until the ``load`` event has
    run, and from scrolling the parallel-coordinates view into sight until it is drawn (none without
    one); the front plot's point count."""
    from playwright.sync_api import sync_playwright

    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    times, loaded, scrolled, points = [], [], [], -1
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=args)
        for _ in range(repeats):
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            errors = []
            page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
            page.on("console", lambda m, errors=errors: errors.append(m.text) if m.type == "error" else None)
            page.route("**/*", lambda r: r.continue_() if r.request.url.startswith("file:") else r.abort())
            page.goto(path.resolve().as_uri(), wait_until="load")
            page.wait_for_function("document.documentElement.dataset.rendered", timeout=120_000)
            times.append(float(page.evaluate("document.documentElement.dataset.rendered")))
            page.wait_for_function("performance.getEntriesByType('navigation')[0].loadEventEnd > 0")
            loaded.append(page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd"))
            points = page.evaluate("document.getElementById('front')._fullData"
                                   ".reduce((s, t) => s + (t._length || 0), 0)")
            if page.locator("#parallel").count():
                t0 = page.evaluate("performance.now()")
                page.locator("#parallel").scroll_into_view_if_needed()
                page.wait_for_function("document.getElementById('parallel').dataset.rendered", timeout=120_000)
                scrolled.append(float(page.evaluate("document.getElementById('parallel').dataset.renderedAt")) - t0)
            if errors:
                sys.exit(f"{path}: browser errors: {errors}")
            page.close()
        browser.close()
    return times, loaded, scrolled, points


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    ap.add_argument("--dir", type=Path, default=Path("/tmp/hwnas_bench_report"))
    ap.add_argument("--out", type=Path, default=None, help="write the markdown table here too")
    args = ap.parse_args()
    if not Path(args.chromium).exists():
        sys.exit(f"--chromium {args.chromium}: not found (Debian: apt-get install chromium)")
    lines = ["`PYTHONPATH=src python benchmarks/bench_report.py " + " ".join(sys.argv[1:]) + "`", "",
             f"{args.trials} trials, {args.repeats} opens each, chromium headless (SwiftShader WebGL), "
             f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
             f"load average before {os.getloadavg()[0]:.1f}", "",
             "| objectives | report MB | write s | figures drawn, ms (median) | max ms | load event, ms (median) "
             "| parallel view on scroll, ms (median) | front-plot points |",
             "|---|---|---|---|---|---|---|---|"]
    for k in (2, 3):
        storage, name = synthetic_study(args.trials, k)
        t0 = time.perf_counter()
        path = write_report(storage, name, args.dir / f"report_{k}obj.html")
        write_s = time.perf_counter() - t0
        times, loaded, scrolled, points = open_times(path, args.repeats, args.chromium)
        completed = sum(t.ok for t in storage.trials(name))
        if points != completed:
            sys.exit(f"{path}: the front plot holds {points} points, the study {completed} completed trials")
        lines.append(f"| {k} | {path.stat().st_size / 1e6:.1f} | {write_s:.1f} | {statistics.median(times):.0f} "
                     f"| {max(times):.0f} | {statistics.median(loaded):.0f} | {f'{statistics.median(scrolled):.0f}' if scrolled else '-'} | {points} |")
        print(lines[-1], flush=True)
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
