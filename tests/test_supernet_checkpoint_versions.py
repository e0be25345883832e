"""Supernet checkpoints carry their version; one of another version is refused naming it, never misread."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from safetensors import safe_open
from safetensors.torch import save_file

from hwnas.core.errors import DataError
from hwnas.data import get_dataset
from hwnas.spaces.signal1d import Signal1DSpace
from hwnas.supernet.checkpoint import FORMAT, VERSION, load_checkpoint, read_metadata, save_checkpoint
from hwnas.supernet.settings import TrainingConfig
from hwnas.supernet.train import SupernetTrainer

#: written by the pre-restructure hwnas (format "hwnas-supernet-1"): this space, 1 epoch on MNIST-1D
V1 = Path(__file__).parent / "data" / "supernet_v1.safetensors"
SPACE = dict(input_shape=(1, 40), max_conv=1, conv_channels=(4,), conv_kernels=(3,), max_fc=1, fc_widths=(8,))


def _resave(src: Path, dst: Path, **metadata: str) -> Path:
    with safe_open(str(src), framework="pt") as f:
        tensors = {k: f.get_tensor(k) for k in f.keys()}
        md = dict(f.metadata())
    save_file(tensors, str(dst), metadata={**md, **metadata})
    return dst


def test_a_checkpoint_of_the_pre_restructure_code_is_refused_naming_its_version(tmp_path):
    with safe_open(str(V1), framework="pt") as f:
        assert f.metadata()["format"] == "hwnas-supernet-1"
    net = Signal1DSpace(**SPACE).build_supernet()  # the same space: only the version stops it
    for load in (lambda: read_metadata(V1), lambda: load_checkpoint(V1, net)):
        with pytest.raises(DataError, match=rf"older hwnas \(supernet checkpoint version 1; this hwnas reads version "
                                            rf"{VERSION}\).*train the supernet again"):
            load()
    # a trainer pointed at it stops with the same message instead of resuming from it
    cfg = TrainingConfig(epochs=1, batch_size=1024, sandwich_random=0)
    with pytest.raises(DataError, match="supernet checkpoint version 1"):
        SupernetTrainer(net, get_dataset("mnist1d"), cfg, V1).train()


def test_checkpoints_are_written_with_the_current_version_and_newer_ones_are_refused(tmp_path):
    net = Signal1DSpace(**SPACE).build_supernet()
    path = save_checkpoint(tmp_path / "ck.safetensors", net, meta={"epoch": 1})
    md = read_metadata(path)
    assert (md["format"], md["version"]) == (FORMAT, VERSION) and load_checkpoint(path, net) == {"epoch": 1}
    newer = _resave(path, tmp_path / "newer.safetensors", version=str(VERSION + 1))
    with pytest.raises(DataError, match=rf"newer hwnas \(supernet checkpoint version {VERSION + 1}.*upgrade hwnas"):
        load_checkpoint(newer, net)
    bad = _resave(path, tmp_path / "bad.safetensors", version="two")
    with pytest.raises(DataError, match="version 'two' is not a number"):
        read_metadata(bad)
    other = _resave(path, tmp_path / "other.safetensors", format="someone-else")
    with pytest.raises(DataError, match="not an hwnas supernet checkpoint"):
        read_metadata(other)
    assert json.loads(json.dumps(md["meta"])) == {"epoch": 1}
