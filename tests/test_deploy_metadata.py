"""Exported models carry their metadata, and the README's deploy script, following only it, reproduces front.csv.

A tiny train-once search on digits exports its front; the README's "Deploy a model" script
(extracted from README.md, run in a fresh interpreter that never imports hwnas) classifies a PNG
image, and the same functions, applied to the raw test split (pixel values 0..16 as scikit-learn
stores them), reproduce every front.csv test accuracy exactly.
"""

import csv
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from PIL import Image
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import hwnas
from hwnas.core.errors import DataError
from hwnas.export.metadata import KEYS, METADATA_VERSION, read_metadata

REPO = Path(__file__).resolve().parents[1]
TINY = {
    "data": {"name": "digits"},
    "space": {"name": "mobilenet",
              "options": {"stem": 4, "stages": [[4, 2, 2], [6, 1, 2]], "head": 8, "widths": [0.5, 1.0]}},
    "supernet": {"training": {"epochs": 2, "batch_size": 128, "lr": 0.01, "sandwich_random": 1}},
    "evaluator": {"name": "supernet", "options": {"calib_samples": 256}},
    "targets": [{"name": "measure", "options": {"repeats": 3, "warmup": 1}},
                {"name": "count", "options": {"precisions": ["fp32"]}}],
    "study": {"budget": 6},
    "strategy": {"name": "random"},
    "threads": 1,
}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("deploy") / "out"
    hwnas.run(TINY, out)
    return out


def _front(out: Path) -> list[dict]:
    with open(out / "front.csv") as f:
        return list(csv.DictReader(f))


def _deploy_script() -> str:
    """The first python block of README.md's "Deploy a model" section."""
    text = (REPO / "README.md").read_text()
    section = text.split("## Deploy a model", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert blocks, "README's Deploy a model section has no python block"
    return blocks[0]


def test_every_model_carries_its_metadata(run_dir):
    rows = _front(run_dir)
    assert rows
    for r in rows:
        md = read_metadata(run_dir / r["model"])
        assert set(md) == set(KEYS)
        assert md["metadata_version"] == str(METADATA_VERSION) and md["hwnas_version"]
        assert md["class_names"] == [str(i) for i in range(10)]
        assert md["input_shape"] == [1, 1, 8, 8] and md["input_layout"] == "NCHW"
        pre = md["preprocessing"]
        assert (pre["scale"], pre["layout"], pre["channels"], pre["source_size"]) == (1 / 16, "NCHW", 1, [8, 8])
        assert md["architecture"] == r["arch"] and md["space"] == "mobilenet"
        assert md["space_description"]["name"] == "mobilenet"
        assert md["metrics"]["accuracy"] == float(r["accuracy"])
        assert md["metrics"]["val_accuracy"] == float(r["val_accuracy"])
        assert md["metrics"]["latency_ms"] == float(r["latency_ms"])
        assert md["metrics"]["macs"] == int(r["macs"]) and md["metrics"]["params"] == int(r["params"])
        assert md["selected_on"] == ["val_accuracy:max", "latency_ms:min"]
        proto = onnx.load(str(run_dir / r["model"]))
        assert proto.producer_name == "hwnas" and r["arch"] in proto.doc_string
        # the graph's input has the shape the metadata states, batch axis dynamic
        dims = proto.graph.input[0].type.tensor_type.shape.dim
        assert [d.dim_value for d in dims[1:]] == md["input_shape"][1:]


def test_readme_script_reproduces_every_test_accuracy_from_metadata_alone(run_dir, tmp_path):
    script = tmp_path / "classify.py"
    script.write_text(_deploy_script())
    # the raw test split, as scikit-learn stores it (0..16), by the digits convention (hwnas.data.digits)
    d = load_digits()
    _, raw_test, _, y_test = train_test_split(d.images, d.target, test_size=0.2, random_state=0, stratify=d.target)
    np.savez(tmp_path / "raw.npz", x=raw_test.astype(np.uint8), y=y_test)
    # a "new image": one test digit as an 8-bit grayscale PNG of its raw values
    Image.fromarray(raw_test[0].astype(np.uint8), mode="L").save(tmp_path / "digit.png")
    rows = _front(run_dir)
    model = run_dir / rows[-1]["model"]
    done = subprocess.run([sys.executable, str(script), str(model), str(tmp_path / "digit.png")], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1].split()[0] in [str(i) for i in range(10)]

    check = tmp_path / "check.py"
    check.write_text(
        "import csv, json, sys\n"
        "import numpy as np\n"
        "from classify import load_model, to_input, predict\n"
        "from PIL import Image\n"
        "raw = np.load('raw.npz')\n"
        "out = {}\n"
        f"for r in csv.DictReader(open({str(run_dir / 'front.csv')!r})):\n"
        f"    session, meta = load_model({str(run_dir)!r} + '/' + r['model'])\n"
        "    x = np.concatenate([to_input(Image.fromarray(img), meta) for img in raw['x']])\n"
        "    names = predict(session, meta, x)\n"
        "    labels = [meta['class_names'][int(c)] for c in raw['y']]\n"
        "    out[r['model']] = 100.0 * float(np.mean([a == b for a, b in zip(names, labels)]))\n"
        "assert not any(m == 'hwnas' or m.startswith('hwnas.') for m in sys.modules), 'hwnas was imported'\n"
        "print(json.dumps(out))\n")
    done = subprocess.run([sys.executable, str(check)], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(got) == {r["model"] for r in rows}
    for r in rows:
        assert round(got[r["model"]], 4) == float(r["accuracy"]), r["model"]


def test_missing_or_tampered_metadata_is_refused_naming_file_and_key(run_dir, tmp_path):
    source = run_dir / _front(run_dir)[0]["model"]

    def rewrite(name: str, change) -> Path:
        proto = onnx.load(str(source))
        props = {p.key: p.value for p in proto.metadata_props}
        change(props)
        del proto.metadata_props[:]
        onnx.helper.set_model_props(proto, props)
        path = tmp_path / name
        onnx.save(proto, str(path))
        return path

    path = rewrite("no_classes.onnx", lambda p: p.pop("class_names"))
    with pytest.raises(DataError, match=r"no_classes\.onnx: metadata key 'class_names' missing"):
        read_metadata(path)
    path = rewrite("bad_pre.onnx", lambda p: p.update(preprocessing="{scale: 1"))
    with pytest.raises(DataError, match=r"bad_pre\.onnx: metadata key 'preprocessing' is not valid JSON"):
        read_metadata(path)
    path = rewrite("bad_shape.onnx", lambda p: p.update(input_shape='{"h": 8}'))
    with pytest.raises(DataError, match=r"bad_shape\.onnx: metadata key 'input_shape' must be a JSON list"):
        read_metadata(path)
    path = rewrite("future.onnx", lambda p: p.update(metadata_version="99"))
    with pytest.raises(DataError, match=r"future\.onnx: metadata key 'metadata_version' is '99'"):
        read_metadata(path)
    path = rewrite("bare.onnx", lambda p: p.clear())
    with pytest.raises(DataError, match=r"bare\.onnx: metadata key 'metadata_version' missing"):
        read_metadata(path)
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    with pytest.raises(DataError, match=r"junk\.onnx cannot be read"):
        read_metadata(tmp_path / "junk.onnx")
