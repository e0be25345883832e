"""Progress bars (rate, ETA) for supernet training, latency measurement and the search: drawn on a terminal's
stderr, never into a log (stderr not a terminal) nor with --quiet."""

from __future__ import annotations

import io

import pytest
import yaml
from rich.console import Console

from hwnas.core.progress import progress_bar, shown


def _draw(console: Console, quiet: bool = False) -> None:
    with progress_bar(quiet, console) as bar:
        task = bar.add_task("measure kernels", total=10, info="phase 1")
        for i in range(3):
            bar.update(task, completed=i + 1)


def test_bar_shows_count_rate_and_eta_on_a_terminal_only():
    term = Console(file=io.StringIO(), force_terminal=True, width=120)
    _draw(term)
    text = term.file.getvalue()
    assert "measure kernels" in text and "3/10" in text and "phase 1" in text and "eta" in text
    assert "/s" in text or "s/it" in text  # the rate
    log = Console(file=io.StringIO(), force_terminal=False, width=120)
    _draw(log)
    assert log.file.getvalue() == ""
    quiet = Console(file=io.StringIO(), force_terminal=True, width=120)
    _draw(quiet, quiet=True)
    assert quiet.file.getvalue() == ""


def test_shown_follows_the_terminal_and_quiet(monkeypatch):
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("TTY_COMPATIBLE", raising=False)
    assert not shown(console=Console(file=io.StringIO()))
    assert shown(console=Console(file=io.StringIO(), force_terminal=True))
    assert not shown(quiet=True, console=Console(file=io.StringIO(), force_terminal=True))


def test_lookup_table_build_reports_each_measurement():
    from hwnas.costs.lut import build_table
    from hwnas.spaces.mobilenet import MobileNetSpace

    space = MobileNetSpace(stem=4, stages=((4, 2, 2),), head=8, widths=(0.5, 1.0))
    calls = []

    def fake_measure(module, shape):  # deterministic "latency": proportional to the weights, plus overhead
        return 0.002 + 1e-6 * sum(p.numel() for p in module.parameters())

    table = build_table(space, coverage=5, samples=4, seed=0, measure=fake_measure,
                        progress=lambda done, total, phase: calls.append((done, total, phase)))
    kernels = [c for c in calls if c[2] == "kernels"]
    nets = [c for c in calls if c[2] == "calibration networks"]
    total = kernels[0][1]  # the kernels of the coverage architectures (calibration networks may add more)
    assert [d for d, _, _ in kernels] == list(range(1, total + 1)) and {t for _, t, _ in kernels} == {total}
    assert 0 < total <= len(table.entries)
    assert nets == [(i, 4, "calibration networks") for i in range(1, 5)]


TABLE_CFG = {"space": "nb201", "objectives": ["acc:max", "lat_ms:min"],
             "strategy": {"name": "random"}, "study": {"storage": None, "budget": 12, "batch_size": 4}}


def _search(tmp_path, table, *flags):
    from hwnas.cli.main import main

    path = tmp_path / "t.csv"
    table.to_csv(path, index=False)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({**TABLE_CFG, "evaluator": {"name": "table", "options": {"path": str(path)}}}))
    assert main(["search", "--config", str(cfg), *flags]) == 0


@pytest.mark.parametrize("terminal,quiet,bar", [(False, False, False), (True, False, True), (True, True, False)])
def test_search_bar_only_on_a_terminal_and_not_quiet(tmp_path, capsys, monkeypatch, synthetic_nb201_table,
                                                     terminal, quiet, bar):
    monkeypatch.delenv("TTY_COMPATIBLE", raising=False)
    if terminal:
        monkeypatch.setenv("FORCE_COLOR", "1")  # rich draws as on a terminal
    else:
        monkeypatch.delenv("FORCE_COLOR", raising=False)
    _search(tmp_path, synthetic_nb201_table, *(["--quiet"] if quiet else []))
    err = capsys.readouterr().err
    assert ("search" in err and "12/12" in err and "eta" in err) == bar, err


def test_supernet_training_bar_on_a_terminal(tmp_path, capsys, monkeypatch):
    import hwnas

    monkeypatch.setenv("FORCE_COLOR", "1")
    cfg = {"data": {"name": "digits"},
           "space": {"name": "mobilenet", "options": {"stem": 4, "stages": [[4, 1, 1]], "head": 8, "widths": [1.0]}},
           "supernet": {"training": {"epochs": 1, "batch_size": 256, "sandwich_random": 0}},
           "targets": [{"name": "count"}], "objectives": ["accuracy:max", "macs:min"], "threads": 1}
    hwnas.train(cfg, tmp_path / "out", verbose=True)
    err = capsys.readouterr().err
    assert "train supernet" in err and "5/5" in err and "epoch 1 loss" in err  # ceil(1149 / 256) steps
    hwnas.train(cfg, tmp_path / "out2", verbose=False)
    assert "train supernet" not in capsys.readouterr().err
