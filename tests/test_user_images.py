"""A user's image folder loads as it is: its own size and channels, its class names, every bad input named."""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import yaml
from PIL import Image

import hwnas
from hwnas.core.errors import ConfigError, DataError
from hwnas.data import get_dataset
from hwnas.data.base import from_arrays
from hwnas.export.metadata import read_metadata

CLASSES = ("ant", "bee", "cat", "dog")


def _folder(root, size=(16, 16), mode="RGB", n=12, classes=CLASSES, seed=0):
    """``n`` images per class; each class has its own mean colour, so a network can tell them apart."""
    rng = np.random.default_rng(seed)
    channels = {"RGB": 3, "L": 1, "RGBA": 4}[mode]
    for c, cls in enumerate(classes):
        (root / cls).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            base = 40 + 50 * c
            a = np.clip(rng.normal(base, 20, (size[0], size[1], channels)), 0, 255).astype(np.uint8)
            Image.fromarray(a[..., 0] if channels == 1 else a, mode).save(root / cls / f"{i:02d}.png")
    return root


def test_rgb_folder_keeps_size_channels_and_class_names(tmp_path):
    root = _folder(tmp_path / "imgs")
    d = get_dataset("folder", path=str(root))
    assert d.input_shape == (3, 16, 16)
    assert d.class_names == list(CLASSES) and d.num_classes == 4
    assert d.preprocessing["layout"] == "NCHW" and d.preprocessing["color_mode"] == "RGB"
    assert d.preprocessing["source_size"] == [16, 16] and d.preprocessing["resize"] is None
    assert d.preprocessing["scale"] == pytest.approx(1 / 255)
    # pixels are the file's values / 255 in the file's own channel order
    f = root / "ant" / "00.png"
    raw = np.asarray(Image.open(f).convert("RGB"), dtype=np.float32).transpose(2, 0, 1) / 255
    allx = np.concatenate([d.x_train.numpy(), d.x_val.numpy(), d.x_test.numpy()])
    assert any(np.array_equal(raw, x) for x in allx)
    line = d.summary()
    assert "4 classes" in line and "(3, 16, 16)" in line and "test" in line and "ant" in line


def test_grayscale_stays_one_channel_and_alpha_is_dropped(tmp_path):
    d = get_dataset("folder", path=str(_folder(tmp_path / "g", size=(10, 12), mode="L", classes=("a", "b"))))
    assert d.input_shape == (1, 10, 12) and d.preprocessing["color_mode"] == "L"
    d = get_dataset("folder", path=str(_folder(tmp_path / "rgba", size=(9, 9), mode="RGBA", classes=("a", "b"))))
    assert d.input_shape == (3, 9, 9)
    # a gray-palette image is grayscale, a colour palette is RGB
    pal = tmp_path / "pal"
    _folder(pal, size=(8, 8), mode="L", classes=("a", "b"))
    Image.open(pal / "a" / "00.png").convert("P").save(pal / "a" / "00.png")
    assert get_dataset("folder", path=str(pal)).input_shape == (1, 8, 8)
    Image.fromarray(np.full((8, 8, 3), (200, 10, 10), np.uint8)).convert("P").save(pal / "b" / "00.png")
    assert get_dataset("folder", path=str(pal)).input_shape == (3, 8, 8)  # one colour image makes it RGB


def test_options_resize_and_channels(tmp_path):
    root = _folder(tmp_path / "imgs", classes=("a", "b"))
    d = get_dataset("folder", path=str(root), resize=[8, 6], channels=1)
    assert d.input_shape == (1, 8, 6)
    assert d.preprocessing["resize"] == [8, 6] and d.preprocessing["source_size"] == [16, 16]
    assert get_dataset("folder", path=str(root), resize=5).input_shape == (3, 5, 5)
    with pytest.raises(DataError, match=r"resize.*\[height, width\]"):
        get_dataset("folder", path=str(root), resize=[8, 0])
    with pytest.raises(DataError, match="channels: 2 not allowed; give 1"):
        get_dataset("folder", path=str(root), channels=2)


def test_mixed_sizes_are_refused_naming_two_files_unless_resized(tmp_path):
    root = _folder(tmp_path / "imgs", classes=("a", "b"))
    Image.fromarray(np.zeros((20, 16, 3), np.uint8)).save(root / "b" / "odd.png")
    with pytest.raises(DataError) as e:
        get_dataset("folder", path=str(root))
    msg = str(e.value)
    assert "a/00.png is 16x16" in msg and "b/odd.png is 20x16" in msg and "resize" in msg
    assert get_dataset("folder", path=str(root), resize=[16, 16]).input_shape == (3, 16, 16)


def test_bad_folders_are_named(tmp_path):
    root = _folder(tmp_path / "imgs", classes=("a", "b"))
    (root / "c").mkdir()
    with pytest.raises(DataError, match=r"imgs/c: class 'c' holds no images.*empty"):
        get_dataset("folder", path=str(root))
    (root / "c" / "notes.txt").write_text("x")
    with pytest.raises(DataError, match=r"class 'c' holds no images.*notes.txt"):
        get_dataset("folder", path=str(root))
    (root / "c" / "notes.txt").unlink()
    (root / "c").rmdir()
    (root / "b" / "07.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    with pytest.raises(DataError, match=r"cannot read image .*b/07.png"):
        get_dataset("folder", path=str(root))


def test_unknown_options_list_the_allowed_ones_for_every_dataset(tmp_path):
    root = _folder(tmp_path / "imgs", classes=("a", "b"))
    for name, options in (("digits", {}), ("mnist1d", {}), ("folder", {"path": str(root)})):
        with pytest.raises(ConfigError) as e:
            get_dataset(name, **options, size=3)
        assert "unknown option(s) ['size'] in data.options; allowed: [" in str(e.value)
    with pytest.raises(ConfigError, match="image_size -> resize"):
        get_dataset("folder", path=str(root), image_size=8)
    np.savez(tmp_path / "a.npz", x=np.zeros((10, 4)), y=np.arange(10) % 2)
    with pytest.raises(DataError, match="apply to image folders"):
        get_dataset("folder", path=str(tmp_path / "a.npz"), resize=4)
    # through a config: the message names the config field
    cfg = {"data": {"name": "digits", "options": {"size": 3}}, "supernet": {}, "study": {"budget": 1}}
    with pytest.raises(ConfigError, match=r"data: dataset 'digits': unknown option\(s\) \['size'\] in data.options"):
        hwnas.run(cfg, tmp_path / "out")
    assert not (tmp_path / "out").exists()  # nothing written: no output folder left behind


@pytest.mark.parametrize("arrays, message", [
    ({"x": np.zeros((6, 4)), "y": np.array([0, 1, 2, 0, 1, 2.5])}, r"integer class indices; y\[5\] = 2.5"),
    ({"x": np.zeros((6, 4)), "y": np.array([0, 1, -1, 0, 1, 1])}, r"must be >= 0; y\[2\] = -1"),
    ({"x": np.zeros((6, 4)), "y": np.array([1, 2, 1, 2, 1, 2])}, r"class 0 never occurs"),
    ({"x": np.zeros((6, 4)), "y": np.array([0, 1, 0, 1, 0])}, r"x has 6 samples but y has shape \(5,\)"),
    ({"x": np.zeros((6, 4)), "y": np.array([0, 1] * 3), "class_names": np.array(["a"])},
     r"in 0..0; y\[1\] = 1"),
    ({"x": np.zeros((6, 4)), "y": np.array([0, 1] * 3), "x_test": np.zeros((2, 4)), "y_test": np.array([0, 4])},
     r"in 0..1; y_test\[1\] = 4"),
    ({"x": np.zeros((6, 4)), "y": np.array(["a", "b"] * 3)}, r"must be integer class indices, got dtype <U1"),
])
def test_bad_npz_labels_name_the_index(tmp_path, arrays, message):
    np.savez(tmp_path / "d.npz", **arrays)
    with pytest.raises(DataError, match=message) as e:
        get_dataset("folder", path=str(tmp_path / "d.npz"))
    assert "d.npz" in str(e.value)


def test_npz_class_names_and_preprocessing(tmp_path):
    np.savez(tmp_path / "d.npz", x=np.zeros((20, 2, 7)), y=np.arange(20) % 3, class_names=np.array(["lo", "mid", "hi"]))
    d = get_dataset("folder", path=str(tmp_path / "d.npz"))
    assert d.class_names == ["lo", "mid", "hi"] and d.input_shape == (2, 7)
    assert d.preprocessing["layout"] == "NCL" and d.preprocessing["scale"] == 1.0


def test_train_once_on_a_user_folder_exports_its_own_shape(tmp_path, capsys):
    """A config whose data section names only the folder: the exported models take (1, 3, 16, 16), their
    metadata names the 4 classes and the preprocessing, and README's deploy script, following only the
    metadata, reproduces every front.csv test accuracy from the raw test images."""
    _folder(tmp_path / "imgs", n=10)
    cfg = {"data": {"name": "folder", "options": {"path": "imgs"}},
           "space": {"name": "mobilenet", "options": {"stem": 4, "stages": [[4, 2, 2]], "head": 8, "widths": [0.5, 1.0]}},
           "supernet": {"training": {"epochs": 1, "batch_size": 32, "sandwich_random": 0}},
           "evaluator": {"name": "supernet", "options": {"calib_samples": 64}},
           "targets": [{"name": "count", "options": {"precisions": ["fp32"]}}],
           "objectives": ["accuracy:max", "macs:min"], "strategy": {"name": "random"},
           "study": {"budget": 3}, "threads": 1}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg))
    result = hwnas.run(path, tmp_path / "out", verbose=True)
    printed = capsys.readouterr().out
    assert "data imgs: " in printed and "4 classes (ant, bee, cat, dog)" in printed and "(3, 16, 16)" in printed
    assert result.rows
    for r in result.rows:
        path = tmp_path / "out" / r["model"]
        dims = [d.dim_param or d.dim_value for d in onnx.load(path).graph.input[0].type.tensor_type.shape.dim]
        assert dims == ["batch", 3, 16, 16]  # the batch axis is dynamic; one image is (1, 3, 16, 16)
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        out = session.run(None, {session.get_inputs()[0].name: np.zeros((1, 3, 16, 16), np.float32)})[0]
        assert out.shape == (1, 4)
    # the raw files of the test split: the loader reads classes and files in sorted order and splits by label
    files = [f for cls in CLASSES for f in sorted((tmp_path / "imgs" / cls).glob("*.png"))]
    labels = np.repeat(np.arange(len(CLASSES)), 10)
    split = from_arrays("imgs", np.arange(len(files), dtype=np.float32)[:, None], labels, class_names=list(CLASSES))
    test = [int(i) for i in split.x_test[:, 0]]
    section = (Path(__file__).resolve().parents[1] / "README.md").read_text().split("## Deploy a model", 1)[1]
    script = tmp_path / "classify.py"
    script.write_text(re.findall(r"```python\n(.*?)```", section.split("\n## ", 1)[0], re.S)[0])
    for r in result.rows:
        model = tmp_path / "out" / r["model"]
        meta = read_metadata(model)
        assert meta["class_names"] == list(CLASSES) and meta["input_shape"] == [1, 3, 16, 16]
        assert meta["preprocessing"]["channels"] == 3 and meta["preprocessing"]["scale"] == pytest.approx(1 / 255)
        done = subprocess.run([sys.executable, "-I", str(script), str(model), *[str(files[i]) for i in test]],
                              capture_output=True, text=True, timeout=300, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        predicted = [line.split(" ", 1)[0] for line in done.stdout.splitlines()[1:]]
        assert len(predicted) == len(test)
        acc = 100.0 * np.mean([p == CLASSES[labels[i]] for p, i in zip(predicted, test)])
        assert round(acc, 4) == float(r["accuracy"])
