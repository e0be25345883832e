"""scikit-learn's handwritten digits (8x8), the embedded offline default.

Convention, so anyone can check a model: input float32 ``(N, 1, 8, 8)`` = pixel / 16;
test split = ``train_test_split(X, y, test_size=0.2, random_state=0, stratify=y)``
on ``load_digits()``. The validation split (for search and BN recalibration
checks) is carved, stratified, from the training part; the test split is never
touched until the front is reported.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from hwnas.data.base import TaskData


def digits_test_split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(x_train, x_test, y_train, y_test)`` with the documented convention (x already ``(N,1,8,8)``/16)."""
    d = load_digits()
    x = (d.images.astype(np.float32) / 16.0)[:, None, :, :]
    return train_test_split(x, d.target, test_size=0.2, random_state=0, stratify=d.target)


def load(val_fraction: float = 0.2, seed: int = 0) -> TaskData:
    """Digits as a TaskData: 1437 train+val, 360 test samples."""
    x_tr, x_te, y_tr, y_te = digits_test_split()
    x_tr, x_val, y_tr, y_val = train_test_split(x_tr, y_tr, test_size=val_fraction, random_state=seed, stratify=y_tr)
    t = torch.from_numpy
    return TaskData("digits", t(np.ascontiguousarray(x_tr)), t(y_tr.astype(np.int64)),
                    t(np.ascontiguousarray(x_val)), t(y_val.astype(np.int64)),
                    t(np.ascontiguousarray(x_te)), t(y_te.astype(np.int64)), 10,
                    class_names=[str(i) for i in range(10)],
                    preprocessing={"scale": 1 / 16, "layout": "NCHW", "size": [8, 8], "channels": 1})
