"""CLI hygiene: --quiet or a pipe leaves no progress bar, help texts are plain text, a failed run leaves no folder."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from hwnas.cli.main import COMMANDS, main

REPO = Path(__file__).resolve().parents[1]
#: what rich's bars are drawn with
BAR_CHARACTERS = ("━", "╸", "╺", "█", "▏")
#: what rich's tables are framed with (a table's rules use the bar's character too)
TABLE_CHARACTERS = "┏┓┗┛┃┡┩┳╇│└┘┴┬"


def progress_lines(text: str) -> list[str]:
    """Lines drawing a progress bar: bar characters outside a table's frame, or redrawn in place (\\r)."""
    return [line for line in text.splitlines()
            if "\r" in line or (any(c in line for c in BAR_CHARACTERS) and not any(c in line for c in TABLE_CHARACTERS))]

TINY_TRAIN_ONCE = {
    "data": "digits",
    "space": {"name": "mobilenet", "options": {"stem": 4, "stages": [[4, 1, 2]], "head": 8, "widths": [0.5, 1.0]}},
    "supernet": {"training": {"epochs": 1, "batch_size": 256, "sandwich_random": 0}},
    "evaluator": {"name": "supernet", "options": {"calib_samples": 64}},
    "targets": [{"name": "count", "options": {"precisions": ["fp32"]}}],
    "objectives": ["accuracy:max", "macs:min"], "strategy": "random", "study": {"budget": 2},
    "export": {"onnx": False}, "threads": 1,
}


def _cli(*args, cwd, terminal: bool = False):
    """Run ``hwnas``; ``terminal`` makes rich draw as on a terminal (FORCE_COLOR), else output is a pipe."""
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "TTY_COMPATIBLE")}
    env.update({"PYTHONPATH": str(REPO / "src"), "COLUMNS": "100", **({"FORCE_COLOR": "1"} if terminal else {})})
    return subprocess.run([sys.executable, "-m", "hwnas.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)


@pytest.fixture
def table_config(tmp_path, synthetic_nb201_table):
    synthetic_nb201_table.iloc[:300].to_csv(tmp_path / "t.csv", index=False)
    cfg = {"space": "nb201", "evaluator": {"name": "table", "options": {"path": "t.csv"}},
           "objectives": ["acc:max", "lat_ms:min"], "strategy": "random",
           "study": {"storage": "s.db", "budget": 30}}
    (tmp_path / "table.yaml").write_text(yaml.safe_dump(cfg))
    return tmp_path / "table.yaml"


def test_quiet_search_shows_no_progress_bar(tmp_path, table_config):
    """Bars are drawn on a terminal's stderr only: not with --quiet, and not into a pipe (a CI log)."""
    (tmp_path / "once.yaml").write_text(yaml.safe_dump(TINY_TRAIN_ONCE))
    for config in ("once.yaml", "table.yaml"):
        loud = _cli("search", "--config", config, "--out", f"loud_{config}", cwd=tmp_path, terminal=True)
        assert loud.returncode == 0, loud.stderr
        assert progress_lines(loud.stderr) and not progress_lines(loud.stdout)  # the bars exist, on stderr
        for flags, terminal in ((["--quiet"], True), ([], False)):
            quiet = _cli("search", "--config", config, "--out", f"quiet_{config}_{terminal}", *flags, cwd=tmp_path,
                         terminal=terminal)
            assert quiet.returncode == 0, quiet.stderr
            text = quiet.stdout + quiet.stderr
            assert not progress_lines(text), text
            assert "Pareto front" in text  # results are still printed


def test_help_texts_are_plain(capsys):
    for command in COMMANDS:
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = capsys.readouterr().out
        assert text and "`" not in text and ":func:" not in text and ":mod:" not in text, (command, text)
    for sub in (["lut", "build"], ["lut", "eval"], ["predictor", "fit"]):
        with pytest.raises(SystemExit):
            main([*sub, "--help"])
        assert "`" not in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["search", "--help"])
    text = capsys.readouterr().out
    assert "relative to the working directory" in text and "relative to the\nconfig file" in text


def test_a_failed_run_leaves_no_output_folder(tmp_path, capsys, table_config):
    bad = {**TINY_TRAIN_ONCE, "data": {"name": "folder", "options": {"path": "no_such_folder"}}}
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(bad))
    out = tmp_path / "runs" / "bad"
    assert main(["search", "--config", str(tmp_path / "bad.yaml"), "--out", str(out), "--quiet"]) == 2
    assert "no_such_folder" in capsys.readouterr().err
    assert not out.exists()
    # a folder that existed before is left as it was
    out.mkdir(parents=True)
    assert main(["search", "--config", str(tmp_path / "bad.yaml"), "--out", str(out), "--quiet"]) == 2
    assert out.is_dir()
    # a table search whose table is missing
    table_config.write_text(table_config.read_text().replace("t.csv", "missing.csv"))
    assert main(["search", "--config", str(table_config), "--out", str(tmp_path / "t_out"), "--quiet"]) == 2
    assert not (tmp_path / "t_out").exists()
