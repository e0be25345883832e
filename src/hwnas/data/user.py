"""User data: a folder of images (one sub-folder per class) or numpy arrays (.npz / .npy).

* images: ``ROOT/<class name>/*.png|jpg|bmp|...``; classes are the sorted folder names (label ``i`` is
  the ``i``-th name). Images load at their own size and colour: grayscale images (PIL modes ``1``,
  ``L``, ``LA``, ``P`` with a gray palette) give 1 channel, colour ones (``RGB``, ``RGBA``, ``P``,
  ``CMYK``, ...) 3, converted with PIL's ``convert("L")`` / ``convert("RGB")`` (an alpha channel is
  dropped); one colour image makes the whole set RGB. All images must then have one size: mixed sizes
  are refused naming two files, unless ``resize: [H, W]`` (or one number for a square) resizes every
  image (bilinear); ``channels: 1|3`` forces the channel count. Pixels are scaled by 1/255; layout
  ``(N, C, H, W)``.
* arrays: an ``.npz`` with arrays ``x`` and ``y`` (and optionally ``x_test``, ``y_test`` and
  ``class_names``), or a folder holding ``x.npy`` and ``y.npy``. ``x`` is ``(N, ...)`` (e.g.
  ``(N, C, L)`` signals or ``(N, C, H, W)`` images; ``(N, L)`` gains a channel axis), used as given.

Never unpickled: ``allow_pickle=False``. Every problem is a :class:`DataError` naming the file or
index, raised while loading, before any training.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hwnas.core.errors import DataError
from hwnas.data.base import TaskData, from_arrays, preprocessing

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
#: PIL modes read as one channel (``LA``: gray + alpha, alpha dropped)
GRAY_MODES = frozenset({"1", "L", "LA", "La"})
#: PIL modes holding more than 8 bits per channel: their scale is not 1/255
WIDE_MODES = frozenset({"I", "F", "I;16", "I;16B", "I;16L", "I;16N", "I;16S"})


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
    names = arrays.get("class_names")
    if names is not None and (names.ndim != 1 or names.dtype.kind not in "US"):
        raise DataError(f"{path}: 'class_names' must be a 1-D array of strings, got {names.dtype} {names.shape}")
    layout = {3: "NCL", 4: "NCHW"}.get(x.ndim, "N" + "?" * (x.ndim - 1))
    prep = preprocessing(layout, 1.0, channels=int(x.shape[1]) if x.ndim >= 3 else None,
                         source_size=list(map(int, x.shape[2:])), summary=f"arrays of {path.name} used as given")
    try:
        return from_arrays(path.stem, x, arrays["y"], x_test, arrays.get("y_test"), test_fraction, val_fraction,
                           seed, class_names=None if names is None else [str(n) for n in names],
                           preprocessing=prep)
    except DataError as e:
        raise DataError(f"{path}: {e}") from None


def _size_option(resize) -> list[int] | None:
    if resize is None:
        return None
    size = [resize, resize] if isinstance(resize, int) and not isinstance(resize, bool) else resize
    if (not isinstance(size, (list, tuple)) or len(size) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in size)):
        raise DataError(f"data.options.resize: {resize!r} is not a size; give [height, width] (or one number "
                        "for a square) in pixels")
    return [int(size[0]), int(size[1])]


def _class_files(root: Path) -> tuple[list[str], list[list[Path]]]:
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(classes) < 2:
        raise DataError(f"image folder {root}: needs one sub-folder per class (at least 2), found {classes}")
    files = []
    for cls in classes:
        found = sorted(p for p in (root / cls).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES
                       and not p.name.startswith("."))
        if not found:
            others = sorted(p.name for p in (root / cls).iterdir())[:5]
            raise DataError(f"image folder {root / cls}: class {cls!r} holds no images (suffixes "
                            f"{list(IMAGE_SUFFIXES)})" + (f"; found {others}" if others else "; it is empty"))
        files.append(found)
    return classes, files


def load_images(root: str | Path, resize: int | list[int] | None = None, channels: int | None = None,
                test_fraction: float = 0.2, val_fraction: float = 0.2, seed: int = 0) -> TaskData:
    """A folder of class folders as a TaskData, at the images' own size and channel count unless
    ``resize`` / ``channels`` say otherwise (see the module docstring)."""
    from PIL import Image, UnidentifiedImageError

    root = Path(root)
    if not root.is_dir():
        raise DataError(f"image folder {root} does not exist or is not a folder")
    size = _size_option(resize)
    if channels is not None and (isinstance(channels, bool) or channels not in (1, 3)):
        raise DataError(f"data.options.channels: {channels!r} not allowed; give 1 (grayscale) or 3 (RGB)")
    classes, files = _class_files(root)
    images, labels, sizes, modes = [], [], {}, set()
    for label, group in enumerate(files):
        for f in group:
            try:
                with Image.open(f) as im:
                    im.load()
                    if im.mode in WIDE_MODES:
                        raise DataError(f"image {f}: PIL mode {im.mode!r} holds more than 8 bits per pixel; "
                                        "save it as 8-bit grayscale or RGB")
                    gray = im.mode in GRAY_MODES or (im.mode == "P" and _gray_palette(im))
                    images.append(im.convert("L" if gray else "RGB"))
            except (UnidentifiedImageError, OSError, ValueError) as e:
                raise DataError(f"cannot read image {f}: {e}") from None
            modes.add("L" if gray else "RGB")
            sizes.setdefault(images[-1].size, f)
            labels.append(label)
    if size is None and len(sizes) > 1:
        (w1, h1), f1 = next(iter(sizes.items()))
        (w2, h2), f2 = list(sizes.items())[1]
        raise DataError(f"images of mixed sizes in {root}: {f1.relative_to(root)} is {h1}x{w1} (HxW), "
                        f"{f2.relative_to(root)} is {h2}x{w2}; give data.options.resize: [height, width] "
                        f"to resize every image ({len(sizes)} sizes found)")
    mode = {1: "L", 3: "RGB"}[channels] if channels is not None else ("RGB" if "RGB" in modes else "L")
    arrays = []
    for im in images:
        im = im.convert(mode)
        if size is not None and im.size != (size[1], size[0]):
            im = im.resize((size[1], size[0]), Image.Resampling.BILINEAR)
        a = np.asarray(im, dtype=np.float32) / 255.0
        arrays.append(a[None] if mode == "L" else a.transpose(2, 0, 1))
    source = [[h, w] for (w, h) in sizes] if len(sizes) > 1 else [next(iter(sizes))[1], next(iter(sizes))[0]]
    shown = "x".join(map(str, source)) if len(sizes) == 1 else f"{len(sizes)} sizes"
    how = (f"{len(images)} {shown} images ({'+'.join(sorted(modes))}) as {mode}"
           + (f", resized to {size[0]}x{size[1]} (bilinear)" if size is not None else "") + ", pixels / 255")
    prep = preprocessing("NCHW", 1 / 255, channels=1 if mode == "L" else 3, color_mode=mode,
                         source_size=source, resize=size, summary=how,
                         resample="bilinear" if size is not None else None)
    return from_arrays(root.name, np.stack(arrays), np.array(labels), test_fraction=test_fraction,
                       val_fraction=val_fraction, seed=seed, class_names=classes, preprocessing=prep)


def _gray_palette(im) -> bool:
    """Whether a palette image's colours are all gray (it then loads as one channel)."""
    palette = im.getpalette() or []
    rgb = np.asarray(palette[: 3 * (len(palette) // 3)]).reshape(-1, 3)
    return "transparency" not in im.info and bool(len(rgb)) and bool((rgb == rgb[:, :1]).all())


def load(path: str | Path, resize: int | list[int] | None = None, channels: int | None = None,
         test_fraction: float = 0.2, val_fraction: float = 0.2, seed: int = 0) -> TaskData:
    """Images if ``path`` is a folder of class folders, else numpy arrays (``resize`` / ``channels``
    apply to images only)."""
    path = Path(path)
    if path.is_dir() and not (path / "x.npy").exists():
        return load_images(path, resize, channels, test_fraction, val_fraction, seed)
    given = [k for k, v in (("resize", resize), ("channels", channels)) if v is not None]
    if given:
        raise DataError(f"data.options {given}: apply to image folders; {path} is numpy data, used as given")
    return load_arrays(path, test_fraction, val_fraction, seed)
