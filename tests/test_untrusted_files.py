"""Files a user may receive from someone else (a study database, a predictor, a lookup table, a supernet
checkpoint, a latency cache) are read as data, never with anything that can run code, and a tampered or
truncated one is refused with an error naming it."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import numpy as np
import pytest
import torch

from hwnas.core.errors import CostModelError, HwnasError

SRC = Path(__file__).resolve().parents[1] / "src" / "hwnas"

#: ways of reading a file that can run code the file carries
CODE_RUNNING_LOADERS = {
    "pickle": re.compile(r"\b(c?pickle|dill|cloudpickle|joblib|shelve|marshal)\.(load|loads|Unpickler|open)\b"),
    "torch.load without weights_only=True": re.compile(r"torch\.load\((?![^)]*weights_only\s*=\s*True)"),
    "torch.jit.load": re.compile(r"torch\.jit\.load\("),
    "numpy with allow_pickle=True": re.compile(r"allow_pickle\s*=\s*True"),
    "yaml.load / unsafe_load": re.compile(r"yaml\.(load|unsafe_load|full_load)\("),
    "eval / exec": re.compile(r"(?<![.\w])(eval|exec)\("),
}


def test_no_loader_that_can_run_code_anywhere_in_the_package():
    found = []
    for path in sorted(SRC.rglob("*.py")):
        for n, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#", 1)[0]
            found += [f"{path.relative_to(SRC)}:{n}: {what}: {line.strip()}"
                      for what, pattern in CODE_RUNNING_LOADERS.items() if pattern.search(code)]
    assert not found, "\n".join(found)


def test_the_audit_patterns_catch_what_they_name():
    """The audit above is only as good as its patterns: each catches its loader and lets the safe form pass."""
    bad = ["pickle.load(f)", "torch.load(path)", "torch.load(p, map_location='cpu')", "np.load(p, allow_pickle=True)",
           "yaml.load(text)", "eval(s)", "joblib.load(p)", "torch.jit.load(p)"]
    good = ["torch.load(p, weights_only=True)", "np.load(p, allow_pickle=False)", "yaml.safe_load(text)",
            "model.eval()", "json.loads(s)"]
    assert all(any(p.search(b) for p in CODE_RUNNING_LOADERS.values()) for b in bad)
    assert not any(p.search(g) for g in good for p in CODE_RUNNING_LOADERS.values())


def _truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


# ---------------------------------------------------------------------------- supernet checkpoint
@pytest.fixture
def checkpoint(tmp_path):
    from hwnas.spaces.mobilenet import MobileNetSpace
    from hwnas.supernet.checkpoint import save_checkpoint

    net = MobileNetSpace(stem=4, stages=((4, 2, 2),), head=8, widths=(0.5, 1.0)).build_supernet()
    return save_checkpoint(tmp_path / "supernet.safetensors", net, torch.optim.AdamW(net.parameters()),
                           {"epoch": 1}), net


@pytest.mark.parametrize("keep", [0.05, 0.5, 0.99])
def test_truncated_checkpoint_is_refused_by_name(checkpoint, keep):
    from hwnas.supernet.checkpoint import load_checkpoint

    path, net = checkpoint
    _truncate(path, keep)
    with pytest.raises(HwnasError, match=re.escape(str(path))):
        load_checkpoint(path, net)


def test_checkpoint_with_tampered_metadata_or_tensors_is_refused_by_name(checkpoint, tmp_path):
    from safetensors import safe_open
    from safetensors.torch import save_file

    from hwnas.supernet.checkpoint import load_checkpoint

    path, net = checkpoint
    with safe_open(str(path), framework="pt") as f:
        meta, tensors = dict(f.metadata()), {k: f.get_tensor(k) for k in f.keys()}
    cases = {
        "meta_not_json": ({**meta, "meta": "{not json"}, tensors, "metadata unreadable"),
        "other_format": ({**meta, "format": "something-else"}, tensors, "not an hwnas supernet checkpoint"),
        "nan_weights": (meta, {k: (torch.full_like(v, float("nan")) if v.is_floating_point() else v)
                               for k, v in tensors.items()}, "NaN or infinite"),
        "reshaped": (meta, {k: (v.reshape(-1)[:-1] if k.endswith("stem.weight") else v) for k, v in tensors.items()},
                     "has shape"),
    }
    for name, (md, ts, message) in cases.items():
        bad = tmp_path / f"{name}.safetensors"
        save_file(ts, str(bad), metadata=md)
        with pytest.raises(HwnasError, match=re.escape(str(bad)) + ".*" + message):
            load_checkpoint(bad, net)
    # a pickle (what torch.save writes) renamed to .safetensors is refused, never unpickled
    pickled = tmp_path / "pickled.safetensors"
    torch.save({"model": net.state_dict()}, pickled)
    with pytest.raises(HwnasError, match=re.escape(str(pickled)) + ".*not a readable safetensors"):
        load_checkpoint(pickled, net)


# ---------------------------------------------------------------------------- latency predictor
@pytest.fixture
def predictor_file(tmp_path):
    from hwnas.costs.latency.predictor import LatencyPredictor
    from hwnas.spaces.nb201 import NB201Space

    genes = NB201Space().enumerate_genes()[::97]
    y = 1.0 + (genes == 3).sum(1) + 0.3 * (genes == 2).sum(1)
    return LatencyPredictor(target="lat_ms", members=2).fit(genes, y).save(tmp_path / "pred.json")


def test_truncated_or_tampered_predictor_is_refused_by_name(predictor_file):
    from hwnas.costs.latency.predictor import LatencyPredictor

    good = json.loads(predictor_file.read_text())
    LatencyPredictor.load(predictor_file)  # the untouched file loads
    tampered = {"truncated": None, "coef_text": {**good, "fits": [{"intercept": 0.0, "coef": "rm -rf /"}]},
                "short_coef": {**good, "fits": [{"intercept": 0.0, "coef": [1.0]}]},
                "no_format": {k: v for k, v in good.items() if k != "format"}}
    for d in tampered.values():
        if d is None:
            _truncate(predictor_file)
        else:
            predictor_file.write_text(json.dumps(d))
        with pytest.raises(HwnasError, match=re.escape(str(predictor_file))):
            LatencyPredictor.load(predictor_file)


# ---------------------------------------------------------------------------- lookup table
def test_truncated_or_tampered_lookup_table_is_refused_by_name(tmp_path):
    from hwnas.costs.lut import LatencyTable

    path = LatencyTable({"conv|k3": 0.01, "gap": 0.002}).save(tmp_path / "lut.json")
    good = json.loads(path.read_text())
    LatencyTable.load(path)
    for d in (None, {**good, "entries": {"conv|k3": -1.0}}, {**good, "entries": {"conv|k3": "0.01; import os"}},
              {**good, "calibration": {"scale": "x"}}, [good]):
        if d is None:
            _truncate(path)
        else:
            path.write_text(json.dumps(d))
        with pytest.raises(HwnasError, match=re.escape(str(path))):
            LatencyTable.load(path)


# ---------------------------------------------------------------------------- latency cache
def test_truncated_or_tampered_latency_cache_is_refused_by_name(tmp_path):
    from hwnas.costs.measure.cache import LatencyCache

    path = tmp_path / "latency.json"
    good = {"dev": {"reference_ms": {"1": 0.5}, "results": {"net": {"latency_ms": 0.2}}}}
    path.write_text(json.dumps(good))
    LatencyCache(path)
    for data in (json.dumps(good)[:30].encode(), json.dumps({"dev": {"reference_ms": {"1": -3}}}).encode(),
                 json.dumps({"dev": {"results": {"net": {"latency_ms": "fast"}}}}).encode(), b"\xff\xfe{"):
        path.write_bytes(data)
        with pytest.raises(CostModelError, match=re.escape(str(path))):
            LatencyCache(path)


# ---------------------------------------------------------------------------- study database
def _study_db(tmp_path) -> Path:
    from hwnas.app.api import search
    from hwnas.evaluators.base import Evaluator

    class Const(Evaluator):
        metrics = ("acc", "lat_ms")

        def evaluate(self, arch):
            return {"acc": 1.0, "lat_ms": 1.0}

        def describe(self):
            return {"name": "const"}

    written = tmp_path / "written" / "study.db"
    written.parent.mkdir()
    search("nb201", Const(), ["acc:max", "lat_ms:min"], strategy="random", budget=3, storage=written)
    path = tmp_path / "study.db"  # what a user receives: one file, its write-ahead log folded in
    with sqlite3.connect(written) as src, sqlite3.connect(path) as dst:
        src.backup(dst)
    return path


def test_truncated_or_foreign_study_database_is_refused_by_name(tmp_path):
    from hwnas.storage import open_storage

    path = _study_db(tmp_path)
    _truncate(path, 0.3)
    with pytest.raises(HwnasError, match=re.escape(str(path))):
        storage = open_storage(path)
        storage.open_study("study", next(iter(storage.studies().values())))
        storage.trials("study")
    other = tmp_path / "notes.db"
    other.write_bytes(b"these are not the droids " * 100)
    with pytest.raises(HwnasError, match=re.escape(str(other))):
        open_storage(other)


def test_study_database_with_a_tampered_record_is_refused_by_name(tmp_path):
    from hwnas.storage import open_storage

    path = _study_db(tmp_path)
    with sqlite3.connect(path) as conn:
        table = next(n for (n,) in conn.execute("select name from sqlite_master where type='table'") if "trial" in n)
        conn.execute(f"update {table} set metrics = '{{\"acc\": 1.0, ' where number = 1")
    storage = open_storage(path)
    storage.open_study("study", next(iter(storage.studies().values())))
    with pytest.raises(HwnasError, match=re.escape(str(path)) + ".*trial 1"):
        storage.trials("study")


def test_numpy_user_arrays_are_never_unpickled(tmp_path):
    """A user data folder's .npy holding Python objects (which needs unpickling) is refused."""
    from hwnas.data.user import load_arrays

    folder = tmp_path / "data"
    folder.mkdir()
    np.save(folder / "x.npy", np.array([{"a": 1}] * 4, dtype=object), allow_pickle=True)
    np.save(folder / "y.npy", np.zeros(4, dtype=np.int64))
    with pytest.raises(HwnasError, match="x.npy|data"):
        load_arrays(folder)
