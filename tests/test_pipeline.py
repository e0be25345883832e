"""The end-to-end train-once search on a tiny config, its config errors, and resume after kill -9."""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

import hwnas
from hwnas.app.config import load_config
from hwnas.app.train_once import FRONT_COLUMNS
from hwnas.core.errors import ConfigError
from hwnas.data import get_dataset
from hwnas.export.onnx import onnx_accuracy
from hwnas.supernet.checkpoint import read_metadata

TINY = {
    "data": {"name": "digits"},
    "space": {"name": "mobilenet",
              "options": {"stem": 4, "stages": [[4, 2, 2], [6, 1, 2]], "head": 8, "widths": [0.5, 1.0]}},
    "supernet": {"training": {"epochs": 2, "batch_size": 128, "lr": 0.01, "sandwich_random": 1}},
    "evaluator": {"name": "supernet", "options": {"calib_samples": 256}},
    "targets": [{"name": "measure", "options": {"repeats": 3, "warmup": 1, "cache": "lat.json"}},
                {"name": "count", "options": {"precisions": ["fp32"]}}],
    "study": {"budget": 6},
    "strategy": {"name": "random"},
    "threads": 1,
}


def run_search(path, out):
    """The CLI's job, as the Python API runs it."""
    hwnas.run(path, out, verbose=True)
    return 0


def _write(tmp_path: Path, cfg: dict, name: str = "c.yaml") -> Path:
    p = tmp_path / name
    p.write_text(yaml.safe_dump(cfg))
    return p


def test_end_to_end_front_models_and_plot(tmp_path, capsys):
    out = tmp_path / "out"
    cfg = {**TINY, "targets": [*TINY["targets"],
                               {"name": "accelerator", "options": {"preset": "edge_npu"}, "prefix": "npu_"}],
           "constraints": ["npu_energy_mj <= 1000"]}
    assert run_search(_write(tmp_path, cfg), out) == 0
    from hwnas.storage import SQLStorage

    storage = SQLStorage(out / "study.db")
    storage.load_study("supernet")
    trials = storage.trials("supernet")
    assert len(trials) == 6 and all(t.metrics["npu_energy_mj"] > 0 and t.metrics["macs"] > 0 for t in trials)
    with open(out / "front.csv") as f:
        rows = list(csv.DictReader(f))
    assert rows and list(rows[0])[: len(FRONT_COLUMNS)] == FRONT_COLUMNS
    x, y = get_dataset("digits").split("test")
    for r in rows:
        model = out / r["model"]
        assert model.exists() and model.suffix == ".onnx"
        assert abs(onnx_accuracy(model, x, y) - float(r["accuracy"])) <= 0.5
        assert float(r["latency_ms"]) > 0 and int(r["macs"]) > 0 and int(r["params"]) > 0
        assert float(r["npu_energy_mj"]) > 0  # a constrained metric is in the row it constrains
    lat = [float(r["latency_ms"]) for r in rows]
    assert lat == sorted(lat)
    # the front is Pareto-optimal on the searched split (val): slower members must be more accurate there
    val = [float(r["val_accuracy"]) for r in rows]
    assert all(b > a for a, b in zip(val, val[1:]))
    assert "chosen on val_accuracy" in capsys.readouterr().out  # the printed table says which split chose it
    assert (out / "front.png").stat().st_size > 1000
    assert (tmp_path / "lat.json").exists()
    # second run: reuses the checkpoint and the stored study, measures nothing new
    before = (tmp_path / "lat.json").read_text()
    assert run_search(_write(tmp_path, cfg), out) == 0
    assert (tmp_path / "lat.json").read_text() == before


def test_an_accelerator_policy_front_holds_its_bits_size_energy_and_fake_quantized_accuracy(tmp_path):
    """The accelerator target's joint search end to end: every front row says its policy, its size at those bit
    widths and its energy (the objective), and its accuracy is the fake-quantized sub-network's, the model the
    row describes."""
    out = tmp_path / "out"
    cfg = {**TINY, "targets": [{"name": "accelerator", "options": {"preset": "edge_npu"}}],
           "compress": {"quantize": {"target": "accelerator", "precisions": ["int4", "int8", "int16"],
                                     "calibration": {"samples": 64}}},
           "objectives": ["accuracy:max", "energy_mj:min"], "study": {"budget": 6}}
    assert run_search(_write(tmp_path, cfg), out) == 0
    with open(out / "front.csv") as f:
        rows = list(csv.DictReader(f))
    front = json.loads((out / "front.json").read_text())
    assert rows and front["directions"]["energy_mj"] == "min" and front["directions"]["size_kb"] == "min"
    x, y = get_dataset("digits").split("test")
    for r in rows:
        assert float(r["energy_mj"]) > 0 and float(r["size_kb"]) > 0
        policy = dict(b.split("=") for b in r["bits"].split())
        arch = json.loads(r["arch"])
        assert policy and all(arch[f"bits.{b}"] == p for b, p in policy.items())  # the row's own policy
        assert abs(onnx_accuracy(out / r["model"], x, y) - float(r["accuracy"])) <= 0.5
    energy = [float(r["energy_mj"]) for r in rows]
    assert energy == sorted(energy)  # the front is ordered by its cost objective


def test_few_shot_supernet_end_to_end(tmp_path, capsys):
    """A supernet split by width (one shot per width) trains, searches and exports like a shared one.

    This one searches on soft accuracy (mean true-class probability) instead of top-1 accuracy.
    """
    out = tmp_path / "out"
    training = {**TINY["supernet"]["training"], "few_shot": "width", "epochs": 4}
    cfg = {**TINY, "supernet": {**TINY["supernet"], "training": training},
           "study": {"budget": 5}, "objectives": ["soft_accuracy:max", "latency_ms:min"]}
    assert run_search(_write(tmp_path, cfg), out) == 0
    assert "chosen on val_soft_accuracy" in capsys.readouterr().out
    md = read_metadata(out / "supernet.safetensors")
    assert md["meta"]["fingerprint"]["training"]["few_shot"] == "width"
    with open(out / "front.csv") as f:
        rows = list(csv.DictReader(f))
    x, y = get_dataset("digits").split("test")
    assert rows
    for r in rows:
        assert abs(onnx_accuracy(out / r["model"], x, y) - float(r["accuracy"])) <= 0.5
    # Pareto-optimal on the searched metric: slower members have a higher validation soft accuracy
    soft = [float(r["val_soft_accuracy"]) for r in rows]
    assert all(0 < v < 100 for v in soft) and all(b > a for a, b in zip(soft, soft[1:]))
    assert run_search(_write(tmp_path, cfg), out) == 0  # reuses the few-shot checkpoint


@pytest.mark.parametrize("patch,message", [
    ({"space": {"name": "nb201"}}, "space.name: 'nb201' is not trainable; allowed .*'mobilenet'"),
    ({"space": {"name": "resnet"}}, "unknown space 'resnet'"),
    ({"data": {"name": "cifar"}}, "data: unknown dataset 'cifar'; allowed: .*'digits'"),
    ({"targets": [{"name": "measure", "options": {"runtime": "tflite"}}]}, r"allowed \['onnxruntime', 'torch'\]"),
    ({"supernet": {"training": {"epochs": 0}}}, "supernet.training.epochs"),
    ({"objectives": ["accuracy:up"]}, "direction 'up' not allowed"),
    ({"study": {"budgett": 3}}, r"study.budgett: unknown field; allowed fields: \['batch_size', 'budget'"),
    ({"targets": [{"name": "abacus"}]}, "unknown cost model 'abacus'"),
    ({"targets": [{"name": "count", "prefix": 3}]}, "targets.0.prefix"),
    ({"evaluator": {"name": "supernet", "options": {"spilt": "val"}}}, r"unknown option\(s\) \['spilt'\]"),
    ({"supernet": {"training": {"few_shot": "n_conv"}}}, r"few_shot: 'n_conv' is not a dimension .*'width'"),
])
def test_config_errors_name_field_and_allowed_values(tmp_path, patch, message):
    cfg = {k: dict(v) if isinstance(v, dict) else v for k, v in TINY.items()}
    for k, v in patch.items():
        cfg[k] = {**cfg.get(k, {}), **v} if isinstance(v, dict) else v
    with pytest.raises(ConfigError, match=message):
        path = _write(tmp_path, cfg)
        load_config(path)
        run_search(path, tmp_path / "o")


@pytest.mark.parametrize("patch,old,new", [
    ({"search": {"budget": 6}}, "search.budget", "study.budget"),
    ({"search": {"strategy_options": {}}}, "search.strategy_options", "strategy.options"),
    ({"evaluation": {"split": "val"}}, "evaluation", "evaluator.options"),
    ({"latency": {"repeats": 3}}, "latency", "a targets entry: {name: measure"),
    ({"supernet": {"space": "mobilenet"}}, "supernet.space", "space (space.name)"),
    ({"supernet": {"space_options": {}}}, "supernet.space_options", "space.options"),
    ({"targets": [{"model": "count"}]}, "targets.0.model", "targets[].name"),
    ({"evaluator": {"type": "supernet"}}, "evaluator.type", "evaluator.name"),
])
def test_old_schema_keys_are_refused_with_their_new_place(tmp_path, patch, old, new):
    cfg = {**TINY, **{k: ({**TINY[k], **v} if isinstance(v, dict) and k in TINY else v) for k, v in patch.items()}}
    with pytest.raises(ConfigError) as e:
        load_config(_write(tmp_path, cfg))
    text = str(e.value)
    assert f"{old}: key of the old schema; it now lives in {new}" in text
    assert "allowed keys here: [" in text


def test_train_once_defaults_are_todays_job(tmp_path):
    """Left out, the train-once job measures latency, counts MACs / parameters and stores OUT/study.db."""
    cfg = load_config({"supernet": {}, "study": {"budget": 3}})
    assert cfg.job == "train_once" and cfg.space.name == "mobilenet" and cfg.data.name == "digits"
    assert cfg.evaluator.name == "supernet" and cfg.evaluator.options == {"split": "val", "calib_samples": 512}
    assert [(t.name, t.options) for t in cfg.targets] == [
        ("measure", {"runtime": "onnxruntime", "threads": 1, "warmup": 10, "repeats": 20}),
        ("count", {"precisions": ["fp32"]})]
    assert cfg.objectives == ["accuracy:max", "latency_ms:min"]
    assert (cfg.study.name, cfg.study.storage, cfg.study.budget, cfg.threads) == ("supernet", "{out}/study.db", 3, 1)
    # paths are relative to the config file
    p = _write(tmp_path, {**TINY, "supernet": {**TINY["supernet"], "checkpoint": "ck/s.safetensors"}})
    cfg = load_config(p)
    assert cfg.supernet.checkpoint == str(tmp_path / "ck/s.safetensors")
    assert cfg.targets[0].options["cache"] == str(tmp_path / "lat.json")


def test_kill_during_training_then_resume(tmp_path):
    cfg = {**TINY, "supernet": {**TINY["supernet"], "training": {**TINY["supernet"]["training"], "epochs": 6,
                                                                 "batch_size": 256}},
           "study": {"budget": 3}}
    path = _write(tmp_path, cfg)
    out = tmp_path / "out"
    ck = out / "supernet.safetensors"
    cmd = [sys.executable, "-m", "hwnas.cli", "search", "--config", str(path), "--out", str(out)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        deadline = time.time() + 120
        while not ck.exists() and time.time() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert ck.exists(), "no checkpoint was written"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    epoch = read_metadata(ck)["meta"]["epoch"]
    assert 1 <= epoch < 6, "training finished before it could be interrupted"
    done = subprocess.run(cmd, capture_output=True, text=True, env={**env, "COLUMNS": "200"}, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "resuming training from" in done.stdout
    resumed_at = int(done.stdout.split("at epoch ")[1].split("/")[0])
    assert resumed_at >= epoch
    assert read_metadata(ck)["meta"]["epoch"] == 6
    assert (out / "front.csv").exists()


def test_supernet_initial_weights_follow_the_training_seed():
    from hwnas.app.train import build_seeded_supernet
    from hwnas.spaces import get_space

    space = get_space("mobilenet", **TINY["space"]["options"])
    a, b, c = (build_seeded_supernet(space, s).state_dict() for s in (3, 3, 4))
    weights = [k for k, v in a.items() if v.is_floating_point() and v.dim() > 1]
    assert weights
    assert all(a[k].equal(b[k]) for k in a)
    assert not all(a[k].equal(c[k]) for k in weights)
