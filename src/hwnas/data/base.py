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
    #: class names in label order (label i is ``class_names[i]``); empty: the labels' numbers
    class_names: list[str] = field(default_factory=list)
    #: what maps a raw image / signal to the input (resize, channels, scale, layout); written into exported models
    preprocessing: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        for split in ("train", "val", "test"):
            x, y = getattr(self, f"x_{split}"), getattr(self, f"y_{split}")
            if len(x) != len(y):
                raise DataError(f"dataset {self.name!r}: {split} split has {len(x)} inputs but {len(y)} labels")
            if len(x) == 0:
                raise DataError(f"dataset {self.name!r}: {split} split is empty")

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


def batches(x: torch.Tensor, y: torch.Tensor, batch_size: int, generator: torch.Generator | None = None,
            shuffle: bool = True, drop_last: bool = False) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Mini-batches of in-memory tensors (shuffled with ``generator`` when asked)."""
    n = len(x)
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    stop = n - (n % batch_size) if drop_last and n >= batch_size else n
    for i in range(0, stop, batch_size):
        idx = order[i:i + batch_size]
        yield x[idx], y[idx]


def from_arrays(name: str, x: np.ndarray, y: np.ndarray, x_test: np.ndarray | None = None,
                y_test: np.ndarray | None = None, test_fraction: float = 0.2, val_fraction: float = 0.2,
                seed: int = 0) -> TaskData:
    """Build a TaskData from numpy arrays, splitting off test (if not given) and validation data, stratified."""
    x = np.asarray(x, dtype=np.float32)
    y = np.asarray(y)
    if x.ndim < 2:
        raise DataError(f"dataset {name!r}: inputs need shape (N, ...), got {x.shape}")
    if y.ndim != 1 or len(y) != len(x):
        raise DataError(f"dataset {name!r}: labels need shape ({len(x)},), got {y.shape}")
    if not np.isfinite(x).all():
        raise DataError(f"dataset {name!r}: inputs contain NaN or infinite values")
    if not np.issubdtype(y.dtype, np.integer):
        if np.issubdtype(y.dtype, np.floating) and np.all(np.mod(y, 1) == 0):
            y = y.astype(np.int64)
        else:
            raise DataError(f"dataset {name!r}: labels must be integer class indices, got dtype {y.dtype}")
    if (y < 0).any():
        raise DataError(f"dataset {name!r}: labels must be >= 0, found {int(y.min())}")
    if x_test is None:
        x, x_test, y, y_test = _split(name, x, y, test_fraction, seed, "test_fraction")
    x_test = np.asarray(x_test, dtype=np.float32)
    y_test = np.asarray(y_test).astype(np.int64)
    x_tr, x_val, y_tr, y_val = _split(name, x, y, val_fraction, seed, "val_fraction")
    num_classes = int(max(y.max(), y_test.max())) + 1
    t = torch.from_numpy
    return TaskData(name, t(np.ascontiguousarray(x_tr)), t(y_tr.astype(np.int64)), t(np.ascontiguousarray(x_val)),
                    t(y_val.astype(np.int64)), t(np.ascontiguousarray(x_test)), t(y_test), num_classes)


def _split(name, x, y, fraction, seed, field):
    if not 0.0 < fraction < 1.0:
        raise DataError(f"dataset {name!r}: {field}={fraction} must lie strictly between 0 and 1")
    _, counts = np.unique(y, return_counts=True)
    stratify = y if counts.min() >= 2 and int(len(y) * fraction) >= len(counts) else None
    try:
        return train_test_split(x, y, test_size=fraction, random_state=seed, stratify=stratify)
    except ValueError as e:
        raise DataError(f"dataset {name!r}: cannot split {len(y)} samples with {field}={fraction}: {e}") from None
