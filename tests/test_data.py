"""Offline datasets: the digits convention, MNIST-1D generated locally, user folders and arrays, bad input."""

import numpy as np
import pytest
from PIL import Image
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from hwnas.core.errors import ConfigError, DataError
from hwnas.data import get_dataset


def test_digits_follow_the_published_convention():
    d = get_dataset("digits")
    raw = load_digits()
    x_tr, x_te, y_tr, y_te = train_test_split(raw.images, raw.target, test_size=0.2, random_state=0, stratify=raw.target)
    assert d.input_shape == (1, 8, 8) and d.x_test.dtype.is_floating_point
    assert np.allclose(d.x_test.numpy()[:, 0], x_te / 16.0)
    assert np.array_equal(d.y_test.numpy(), y_te)
    assert len(d.y_train) + len(d.y_val) == len(y_tr)
    assert float(d.x_train.max()) <= 1.0


def test_mnist1d_is_generated_locally(tmp_path, monkeypatch):
    monkeypatch.setenv("HWNAS_CACHE", str(tmp_path))
    d = get_dataset("mnist1d", num_samples=600)
    assert d.input_shape == (1, 40) and d.num_classes == 10
    assert len(d.y_test) == 120 and len(d.y_train) + len(d.y_val) == 480
    assert list(tmp_path.glob("mnist1d-*.npz"))  # cached as npz, no pickle
    again = get_dataset("mnist1d", num_samples=600)
    assert np.array_equal(again.x_test.numpy(), d.x_test.numpy())


def test_user_image_folder(tmp_path):
    rng = np.random.default_rng(0)
    for cls in ("cat", "dog"):
        (tmp_path / cls).mkdir()
        for i in range(10):
            Image.fromarray((rng.random((12, 12)) * 255).astype(np.uint8)).save(tmp_path / cls / f"{i}.png")
    d = get_dataset("folder", path=str(tmp_path), resize=6)
    assert d.input_shape == (1, 6, 6) and d.num_classes == 2
    assert len(d.y_train) + len(d.y_val) + len(d.y_test) == 20
    (tmp_path / "dog" / "broken.png").write_bytes(b"nope")
    with pytest.raises(DataError, match="broken.png"):
        get_dataset("folder", path=str(tmp_path))


def test_user_arrays_and_errors(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "sig.npz", x=rng.standard_normal((50, 30)), y=np.arange(50) % 3)
    d = get_dataset("folder", path=str(tmp_path / "sig.npz"))
    assert d.input_shape == (1, 30) and d.num_classes == 3
    np.savez(tmp_path / "bad.npz", x=rng.standard_normal((50, 30)), labels=np.zeros(50))
    with pytest.raises(DataError, match="'x' and 'y'"):
        get_dataset("folder", path=str(tmp_path / "bad.npz"))
    np.savez(tmp_path / "nan.npz", x=np.full((10, 3), np.nan), y=np.zeros(10, int))
    with pytest.raises(DataError, match="NaN"):
        get_dataset("folder", path=str(tmp_path / "nan.npz"))
    with pytest.raises(ConfigError, match="allowed"):
        get_dataset("cifar")
    with pytest.raises(ConfigError, match="needs a path"):
        get_dataset("folder")
    with pytest.raises(ConfigError, match="unknown option"):
        get_dataset("digits", size=3)
