"""User data: a folder of images (one sub-folder per class) or numpy arrays (.npz / .npy).

* images: ``ROOT/<class name>/*.png|jpg|bmp|...``; classes are the sorted folder
  names; images are converted to grayscale or RGB and resized to ``image_size``;
  pixels scaled to [0, 1]; layout ``(N, C, H, W)``.
* arrays: an ``.npz`` with arrays ``x`` and ``y`` (and optionally ``x_test``,
  ``y_test``), or a folder holding ``x.npy`` and ``y.npy``. ``x`` is
  ``(N, ...)`` (e.g. ``(N, C, L)`` signals or ``(N, C, H, W)`` images).
Never unpickled: ``allow_pickle=False``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hwnas.core.errors import DataError
from hwnas.data.base import TaskData, from_arrays

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


def load_arrays(path: str | Path, test_fraction: float = 0.2, val_fraction: float = 0.2, seed: int = 0) -> TaskData:
    path = Path(path)
    if not path.exists():
        raise DataError(f"data path {path} does not exist")
    try:
        if path.is_dir():
            if not (path / "x.npy").exists() or not (path / "y.npy").exists():
                raise DataError(f"data folder {path}: expected x.npy and y.npy (or image sub-folders per class)")
            arrays = {"x": np.load(path / "x.npy", allow_pickle=False), "y": np.load(path / "y.npy", allow_pickle=False)}
        else:
            with np.load(path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
    except DataError:
        raise
    except (OSError, ValueError) as e:
        raise DataError(f"cannot read numpy data from {path}: {e}") from None
    if "x" not in arrays or "y" not in arrays:
        raise DataError(f"{path}: needs arrays named 'x' and 'y', found {sorted(arrays)}")
    if ("x_test" in arrays) != ("y_test" in arrays):
        raise DataError(f"{path}: give both 'x_test' and 'y_test' or neither")
    x = arrays["x"]
    if x.ndim == 2:  # (N, L) signals: add the channel axis
        x = x[:, None, :]
    x_test = arrays.get("x_test")
    if x_test is not None and x_test.ndim == 2:
        x_test = x_test[:, None, :]
    return from_arrays(path.stem, x, arrays["y"], x_test, arrays.get("y_test"), test_fraction, val_fraction, seed)


def load_images(root: str | Path, image_size: int = 8, grayscale: bool = True, test_fraction: float = 0.2,
                val_fraction: float = 0.2, seed: int = 0) -> TaskData:
    from PIL import Image, UnidentifiedImageError

    root = Path(root)
    if not root.is_dir():
        raise DataError(f"image folder {root} does not exist or is not a folder")
    classes = sorted(p.name for p in root.iterdir() if p.is_dir())
    if len(classes) < 2:
        raise DataError(f"image folder {root}: needs one sub-folder per class (at least 2), found {classes}")
    xs, ys = [], []
    for label, cls in enumerate(classes):
        files = sorted(p for p in (root / cls).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise DataError(f"image folder {root / cls}: no images with suffix in {list(IMAGE_SUFFIXES)}")
        for f in files:
            try:
                with Image.open(f) as im:
                    im = im.convert("L" if grayscale else "RGB").resize((image_size, image_size))
                    a = np.asarray(im, dtype=np.float32) / 255.0
            except (UnidentifiedImageError, OSError) as e:
                raise DataError(f"cannot read image {f}: {e}") from None
            xs.append(a[None] if grayscale else a.transpose(2, 0, 1))
            ys.append(label)
    return from_arrays(root.name, np.stack(xs), np.array(ys), test_fraction=test_fraction,
                       val_fraction=val_fraction, seed=seed)


def load(path: str | Path, **options) -> TaskData:
    """Images if ``path`` is a folder of class folders, else numpy arrays."""
    path = Path(path)
    if path.is_dir() and not (path / "x.npy").exists():
        return load_images(path, **options)
    allowed = {"test_fraction", "val_fraction", "seed"}
    bad = set(options) - allowed
    if bad:
        raise DataError(f"numpy data {path}: unknown option(s) {sorted(bad)}; allowed {sorted(allowed)}")
    return load_arrays(path, **options)
