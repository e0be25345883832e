"""InstaTune in the train-once job: ``supernet.init`` pre-trains (or reads) a dense model, starts the supernet
from it and tunes it on the target task; bad checkpoints are refused before any training."""

from __future__ import annotations

import copy

import pytest
import torch
from rich.console import Console

from hwnas.app.config import load_config
from hwnas.app.train_once import run_train_once
from hwnas.core.errors import ConfigError, DataError
from hwnas.data import get_dataset
from hwnas.spaces import get_space
from hwnas.supernet.checkpoint import load_checkpoint, read_metadata
from hwnas.supernet.pretrained import load_pretrained, pretrain_dense
from hwnas.supernet.rewire import rewire
from hwnas.supernet.settings import TrainingConfig
from hwnas.supernet.train import SupernetTrainer

DATA = {"seq_len": 8, "num_samples": 400}
SPACE = {"widths": [8, 16], "depths": [1, 2], "heads": [1, 2], "mlp_sizes": [16, 32], "head_dim": 8}


def _config(tmp_path, **init):
    raw = {
        "data": {"name": "synthetic_text", "options": {"task": "sentiment", **DATA}},
        "space": {"name": "text_encoder", "options": SPACE},
        "supernet": {"training": {"epochs": 1, "batch_size": 64, "sandwich_random": 1},
                     "init": {"pretrained": "{out}/dense.safetensors", "new_head": True,
                              "pretrain": {"data": {"name": "synthetic_text", "options": {"task": "topic", **DATA}},
                                           "epochs": 2}, **init}},
        "targets": [{"name": "count"}],
        "objectives": ["accuracy:max", "macs:min"],
        "study": {"budget": 3},
        "export": {"onnx": False, "plot": False},
    }
    return load_config(raw, base=tmp_path)


def test_instatune_job_pretrains_then_tunes_from_the_dense_model(tmp_path):
    out = tmp_path / "run"
    result = run_train_once(_config(tmp_path), out, console=Console(quiet=True), quiet=True)
    dense = read_metadata(out / "dense.safetensors")
    assert dense["meta"]["data"]["name"] == "synthetic_text-topic"
    md = read_metadata(out / "supernet.safetensors")
    init = md["meta"]["fingerprint"]["init"]
    assert init["pretrained"] == str(out / "dense.safetensors") and init["new_head"] is True
    assert init["rewire"] is True and init["probe_head"] is True  # the defaults on a transformer space
    assert len(result.rows) >= 1
    # the tuned supernet moved away from the dense weights, but started from them: one epoch of fine-tuning
    # leaves the token embeddings far closer to the dense model's than to a fresh initialisation
    space = get_space("text_encoder", input_shape=[8], num_classes=4, vocab_size=64, **SPACE)
    tuned, start = space.build_supernet(), space.build_supernet()
    load_checkpoint(out / "supernet.safetensors", tuned)
    fresh = copy.deepcopy(start)
    load_pretrained(out / "dense.safetensors", start)
    target = get_dataset("synthetic_text", task="sentiment", **DATA)
    rewire(start, target.x_train, target.y_train)  # as the job did: the same units in the same order
    moved = (tuned.embed.tokens.weight - start.embed.tokens.weight).norm()
    assert 0 < moved < 0.5 * (tuned.embed.tokens.weight - fresh.embed.tokens.weight).norm()
    # a second run reuses the dense file and the tuned checkpoint
    before = (out / "dense.safetensors").stat().st_mtime_ns
    run_train_once(_config(tmp_path), out, console=Console(quiet=True), quiet=True)
    assert (out / "dense.safetensors").stat().st_mtime_ns == before


def test_missing_pretrained_file_without_pretrain_is_refused(tmp_path):
    cfg = _config(tmp_path, pretrained=str(tmp_path / "nope.safetensors"), pretrain=None)
    with pytest.raises(ConfigError, match=r"supernet\.init\.pretrained: .*nope\.safetensors does not exist"):
        run_train_once(cfg, tmp_path / "run", console=Console(quiet=True), quiet=True)
    assert not (tmp_path / "run").exists()


def test_checkpoint_that_does_not_fit_is_refused_before_training(tmp_path):
    # a dense model of a wider space: refused by parameter name and shapes, no supernet trained
    wide = get_space("text_encoder", input_shape=[8], num_classes=4, vocab_size=64, **{**SPACE, "widths": [8, 24]})
    data = get_dataset("synthetic_text", task="topic", **DATA)
    pretrain_dense(wide.build_supernet(), data, TrainingConfig(epochs=1), tmp_path / "wide.safetensors")
    cfg = _config(tmp_path, pretrained=str(tmp_path / "wide.safetensors"), pretrain=None)
    with pytest.raises(DataError, match=r"parameter blocks\.0\.attn\.k\.weight has shape \(16, 24\) in the "
                                        r"checkpoint but \(16, 16\)"):
        run_train_once(cfg, tmp_path / "run", console=Console(quiet=True), quiet=True)
    assert not (tmp_path / "run" / "supernet.safetensors").exists()


def test_rewire_and_probe_head_can_be_turned_off(tmp_path):
    out = tmp_path / "run"
    run_train_once(_config(tmp_path, rewire=False, probe_head=False), out, console=Console(quiet=True), quiet=True)
    init = read_metadata(out / "supernet.safetensors")["meta"]["fingerprint"]["init"]
    assert init["rewire"] is False and init["probe_head"] is False


def test_schema_refuses_unknown_init_keys(tmp_path):
    with pytest.raises(ConfigError, match="pretrianed"):
        _config(tmp_path, pretrianed="x")


def test_a_checkpoint_from_random_weights_is_not_resumed_as_instatune(tmp_path):
    space = get_space("text_encoder", input_shape=[8], num_classes=4, vocab_size=64, **SPACE)
    data = get_dataset("synthetic_text", task="sentiment", **DATA)
    cfg = TrainingConfig(epochs=1, batch_size=128, sandwich_random=0)
    SupernetTrainer(space.build_supernet(), data, cfg, tmp_path / "s.safetensors").train()
    other = SupernetTrainer(space.build_supernet(), data, cfg, tmp_path / "s.safetensors",
                            init={"pretrained": "dense.safetensors", "sha256": "0"})
    with pytest.raises(DataError, match=r"differing: \['init \(pre-trained weights\)'\]"):
        other.resume()


def test_dense_pretraining_trains_the_largest_network(tmp_path):
    space = get_space("text_encoder", input_shape=[8], num_classes=4, vocab_size=64, **SPACE)
    data = get_dataset("synthetic_text", task="topic", seq_len=8, num_samples=1200)
    torch.manual_seed(0)
    net = space.build_supernet()
    from hwnas.supernet.calibrate import accuracy

    before = accuracy(net, data.x_test, data.y_test, space.largest())
    pretrain_dense(net, data, TrainingConfig(epochs=4, batch_size=32), tmp_path / "d.safetensors")
    after = accuracy(net, data.x_test, data.y_test, space.largest())
    assert after > before + 15 and read_metadata(tmp_path / "d.safetensors")["meta"]["dense"]
