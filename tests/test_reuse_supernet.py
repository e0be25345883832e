"""A second study on an already-trained supernet: trains nothing, writes its own front, leaves the first one alone."""

import csv
import hashlib
import io
from pathlib import Path

import pytest
import yaml
from rich.console import Console

import hwnas
from hwnas.app.api import run_config
from hwnas.app.config import load_config
from hwnas.cli.main import main
from hwnas.core.errors import ConfigError
from hwnas.storage import SQLStorage

TINY = {
    "data": {"name": "digits"},
    "space": {"name": "mobilenet",
              "options": {"stem": 4, "stages": [[4, 2, 2], [6, 1, 2]], "head": 8, "widths": [0.5, 1.0]}},
    "supernet": {"training": {"epochs": 1, "batch_size": 128, "lr": 0.01, "sandwich_random": 1}},
    "evaluator": {"name": "supernet", "options": {"calib_samples": 256}},
    "targets": [{"name": "measure", "options": {"repeats": 3, "warmup": 1}},
                {"name": "count", "options": {"precisions": ["fp32"]}}],
    "study": {"budget": 5},
    "strategy": {"name": "random"},
    "threads": 1,
}


def _digest(path: Path) -> tuple[str, int]:
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns


def _rows(path: Path) -> list[dict]:
    with open(path) as f:
        return list(csv.DictReader(f))


def test_second_study_reuses_the_checkpoint_and_writes_its_own_front(tmp_path, monkeypatch):
    out = tmp_path / "out"
    hwnas.run(TINY, out)
    ck = out / "supernet.safetensors"
    before = _digest(ck)
    first_front = (out / "front.csv").read_text()
    bound = sorted(float(r["latency_ms"]) for r in _rows(out / "front.csv"))[-1]

    from hwnas.supernet.train import SupernetTrainer

    def no_training(self, progress=None):
        raise AssertionError("the second study trained the supernet")

    monkeypatch.setattr(SupernetTrainer, "train", no_training)
    log = io.StringIO()
    cfg = load_config({**TINY, "study": {"name": "fast", "budget": 5}, "objectives": ["soft_accuracy:max", "macs:min"],
                       "constraints": [f"latency_ms <= {bound}"]})
    result = run_config(cfg, out, console=Console(file=log, width=200), quiet=True)
    text = log.getvalue()
    assert "reusing trained checkpoint" in text and "train supernet" not in text
    assert _digest(ck) == before  # untouched: same bytes, same modification time
    assert result.out == out / "fast"
    rows = _rows(out / "fast" / "front.csv")
    assert rows and all((out / "fast" / r["model"]).is_file() for r in rows)
    assert all(float(r["latency_ms"]) <= bound for r in rows)
    assert (out / "fast" / "front.json").is_file()
    assert (out / "front.csv").read_text() == first_front  # the first study's front is not overwritten
    assert set(SQLStorage(out / "study.db").studies()) == {"supernet", "fast"}

    # the same from the CLI: --study overrides study.name; a third study, still no training
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({**TINY, "objectives": ["accuracy:max", "params:min"]}))
    assert main(["search", "--config", str(config), "--out", str(out), "--study", "small", "--quiet"]) == 0
    assert _rows(out / "small" / "front.csv") and _digest(ck) == before
    assert (out / "front.csv").read_text() == first_front
    assert hwnas.pick(out, study="small").folder == out / "small"


def test_an_existing_checkpoint_elsewhere_is_reused_with_supernet_checkpoint(tmp_path, monkeypatch):
    first = tmp_path / "first"
    hwnas.run(TINY, first)
    before = _digest(first / "supernet.safetensors")
    from hwnas.supernet.train import SupernetTrainer

    monkeypatch.setattr(SupernetTrainer, "train", lambda self, progress=None: pytest.fail("trained again"))
    cfg = {**TINY, "supernet": {**TINY["supernet"], "checkpoint": str(first / "supernet.safetensors")}}
    hwnas.run(cfg, tmp_path / "second")
    assert _rows(tmp_path / "second" / "front.csv")
    assert not (tmp_path / "second" / "supernet.safetensors").exists()
    assert _digest(first / "supernet.safetensors") == before


@pytest.mark.parametrize("name", ["models", "../up", "a/b", ".hidden", ""])
def test_a_study_name_that_is_no_folder_name_is_refused_before_training(tmp_path, name):
    with pytest.raises(ConfigError, match="study.name: .* names the folder its front is written to"):
        hwnas.run({**TINY, "study": {"name": name, "budget": 2}}, tmp_path / "out")
    assert not (tmp_path / "out" / "supernet.safetensors").exists()
