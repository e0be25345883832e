"""A classification task held in memory: train / validation / test tensors and their shape.

Every built-in dataset is small enough to live in memory as float32 tensors,
which keeps supernet training, BN recalibration and accuracy evaluation free of
data-loader overhead (hundreds of sub-network evaluations per search).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
from sklearn.model_selection import train_test_split

from hwnas.core.errors import DataError


@dataclass
class TaskData:
    """Tensors of one classification task; ``x_*`` are float32 ``(N, *input_shape)``, ``y_*`` int64 ``(N,)``."""

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int
    #: the name of each class, in label order (label ``i`` is ``class_names[i]``); default ``"0"``, ``"1"``, ...
    class_names: list[str] = field(default_factory=list)
    #: what maps a raw sample to one input row, as plain JSON data (see :func:`preprocessing`)
    preprocessing: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        for split in ("train", "val", "test"):
            x, y = getattr(self, f"x_{split}"), getattr(self, f"y_{split}")
            if len(x) != len(y):
                raise DataError(f"dataset {self.name!r}: {split} split has {len(x)} inputs but {len(y)} labels")
            if len(x) == 0:
                raise DataError(f"dataset {self.name!r}: {split} split is empty")
        if not self.class_names:
            self.class_names = [str(i) for i in range(self.num_classes)]
        self.class_names = [str(c) for c in self.class_names]
        if len(self.class_names) != self.num_classes:
            raise DataError(f"dataset {self.name!r}: {len(self.class_names)} class names for "
                            f"{self.num_classes} classes")

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one sample (no batch dimension)."""
        return tuple(self.x_train.shape[1:])

    def split(self, name: str) -> tuple[torch.Tensor, torch.Tensor]:
        if name not in ("train", "val", "test"):
            raise DataError(f"split {name!r} unknown; use 'train', 'val' or 'test'")
        return getattr(self, f"x_{name}"), getattr(self, f"y_{name}")

    def describe(self) -> dict:
        return {"name": self.name, "input_shape": list(self.input_shape), "num_classes": self.num_classes,
                "sizes": {s: len(self.split(s)[1]) for s in ("train", "val", "test")}}

    def summary(self) -> str:
        """One line: what was loaded (samples per split, classes, input shape, preprocessing)."""
        sizes = " / ".join(f"{len(self.split(s)[1])} {s}" for s in ("train", "val", "test"))
        names = ", ".join(self.class_names[:8]) + (", ..." if self.num_classes > 8 else "")
        how = self.preprocessing.get("summary")
        return (f"data {self.name}: {sizes}; {self.num_classes} classes ({names}); input {tuple(self.input_shape)}"
                + (f"; {how}" if how else ""))


def preprocessing(layout: str, scale: float = 1.0, channels: int | None = None, color_mode: str | None = None,
                  source_size: list[int] | None = None, resize: list[int] | None = None,
                  summary: str = "", **extra) -> dict:
    """The preprocessing record a loader puts on :attr:`TaskData.preprocessing`: plain JSON data.

    ``layout``: axes of one batch (``NCHW`` images, ``NCL`` signals); ``scale``: the factor raw values
    are multiplied by (``1/255`` for 8-bit images); ``channels`` and ``color_mode`` (the PIL mode images
    are converted to: ``L`` or ``RGB``); ``source_size``: the raw sample's size (``[H, W]`` or ``[L]``);
    ``resize``: the size it is resized to (``None``: not resized); ``summary``: one human line.
    """
    return {"layout": layout, "scale": float(scale), "channels": channels, "color_mode": color_mode,
            "source_size": source_size, "resize": resize, "summary": summary, **extra}


def batches(x: torch.Tensor, y: torch.Tensor, batch_size: int, generator: torch.Generator | None = None,
            shuffle: bool = True, drop_last: bool = False) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Mini-batches of in-memory tensors (shuffled with ``generator`` when asked)."""
    n = len(x)
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    stop = n - (n % batch_size) if drop_last and n >= batch_size else n
    for i in range(0, stop, batch_size):
        idx = order[i:i + batch_size]
        yield x[idx], y[idx]


def check_labels(name: str, y: np.ndarray, what: str = "y", num_classes: int | None = None) -> np.ndarray:
    """``y`` as int64 class indices; a clear :class:`DataError` naming the first bad index otherwise
    (not 1-D, not an integer, negative, or ``>= num_classes`` when the class count is known)."""
    y = np.asarray(y)
    if y.ndim != 1:
        raise DataError(f"dataset {name!r}: labels {what} need shape (N,), got {y.shape}")
    if y.dtype.kind not in "iuf":
        raise DataError(f"dataset {name!r}: labels {what} must be integer class indices, got dtype {y.dtype}")
    if y.dtype.kind == "f":
        bad = np.flatnonzero(~np.isfinite(y) | (np.mod(y, 1) != 0))
        if len(bad):
            raise DataError(f"dataset {name!r}: labels must be integer class indices; {what}[{bad[0]}] = "
                            f"{y[bad[0]]}" + (f" ({len(bad)} such labels)" if len(bad) > 1 else ""))
    y = y.astype(np.int64)
    bad = np.flatnonzero(y < 0) if num_classes is None else np.flatnonzero((y < 0) | (y >= num_classes))
    if len(bad):
        allowed = ">= 0" if num_classes is None else f"in 0..{num_classes - 1}"
        raise DataError(f"dataset {name!r}: labels must be {allowed}; {what}[{bad[0]}] = {y[bad[0]]}"
                        + (f" ({len(bad)} such labels)" if len(bad) > 1 else ""))
    return y


def _check_inputs(name: str, x: np.ndarray, what: str) -> None:
    bad = np.flatnonzero(~np.isfinite(x).reshape(len(x), -1).all(axis=1))
    if len(bad):
        raise DataError(f"dataset {name!r}: inputs contain NaN or infinite values (first in {what}[{bad[0]}])")


def from_arrays(name: str, x: np.ndarray, y: np.ndarray, x_test: np.ndarray | None = None,
                y_test: np.ndarray | None = None, test_fraction: float = 0.2, val_fraction: float = 0.2,
                seed: int = 0, class_names: list[str] | None = None, preprocessing: dict | None = None) -> TaskData:
    """Build a TaskData from numpy arrays, splitting off test (if not given) and validation data, stratified.

    Labels are class indices ``0..K-1``: with ``class_names`` ``K`` is their number, else the largest
    label + 1, and then every class must occur in ``y`` (labels ``1..10`` would leave class 0 empty).
    """
    x = np.asarray(x, dtype=np.float32)
    if x.ndim < 2:
        raise DataError(f"dataset {name!r}: inputs need shape (N, ...), got {x.shape}")
    if np.shape(y)[:1] != (len(x),):
        raise DataError(f"dataset {name!r}: x has {len(x)} samples but y has shape {np.shape(y)}")
    known = len(class_names) if class_names else None
    y = check_labels(name, y, "y", known)
    _check_inputs(name, x, "x")
    if x_test is not None:
        x_test = np.asarray(x_test, dtype=np.float32)
        if x_test.shape[1:] != x.shape[1:]:
            raise DataError(f"dataset {name!r}: x_test samples have shape {x_test.shape[1:]}, "
                            f"x samples {x.shape[1:]}")
        if np.shape(y_test)[:1] != (len(x_test),):
            raise DataError(f"dataset {name!r}: x_test has {len(x_test)} samples but y_test has shape "
                            f"{np.shape(y_test)}")
        y_test = check_labels(name, y_test, "y_test", known or int(y.max()) + 1)
        _check_inputs(name, x_test, "x_test")
    num_classes = known or int(y.max()) + 1
    missing = np.setdiff1d(np.arange(num_classes), y)
    if known is None and len(missing):
        raise DataError(f"dataset {name!r}: labels must be class indices 0..K-1, but class {missing[0]} never "
                        f"occurs in y (labels found: {np.unique(y)[:10].tolist()}); renumber them from 0")
    if x_test is None:
        x, x_test, y, y_test = _split(name, x, y, test_fraction, seed, "test_fraction")
    x_tr, x_val, y_tr, y_val = _split(name, x, y, val_fraction, seed, "val_fraction")
    t = torch.from_numpy
    return TaskData(name, t(np.ascontiguousarray(x_tr)), t(y_tr.astype(np.int64)), t(np.ascontiguousarray(x_val)),
                    t(y_val.astype(np.int64)), t(np.ascontiguousarray(x_test)), t(np.asarray(y_test, np.int64)),
                    num_classes, list(class_names or []), dict(preprocessing or {}))


def _split(name, x, y, fraction, seed, field):
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0.0 < fraction < 1.0:
        raise DataError(f"dataset {name!r}: {field}={fraction} must lie strictly between 0 and 1")
    _, counts = np.unique(y, return_counts=True)
    stratify = y if counts.min() >= 2 and int(len(y) * fraction) >= len(counts) else None
    try:
        return train_test_split(x, y, test_size=fraction, random_state=seed, stratify=stratify)
    except ValueError as e:
        raise DataError(f"dataset {name!r}: cannot split {len(y)} samples with {field}={fraction}: {e}") from None
