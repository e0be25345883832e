"""scikit-learn's handwritten digits (8x8), the embedded offline default.

Convention, so anyone can check a model: input float32 ``(N, 1, 8, 8)`` = pixel / 16;
test split = ``train_test_split(X, y, test_size=0.2, random_state=0, stratify=y)``
on ``load_digits()``. The validation split (for search and BN recalibration
checks) is carved, stratified, from the training part; the test split is never
touched until the front is reported.
"""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from hwnas.data.base import TaskData, from_arrays, preprocessing


def digits_test_split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(x_train, x_test, y_train, y_test)`` with the documented convention (x already ``(N,1,8,8)``/16)."""
    d = load_digits()
    x = (d.images.astype(np.float32) / 16.0)[:, None, :, :]
    return train_test_split(x, d.target, test_size=0.2, random_state=0, stratify=d.target)


def load(val_fraction: float = 0.2, seed: int = 0) -> TaskData:
    """Digits as a TaskData: 1437 train+val, 360 test samples; the validation split is
    ``train_test_split(x_train, y_train, test_size=val_fraction, random_state=seed, stratify=y_train)``."""
    x_tr, x_te, y_tr, y_te = digits_test_split()
    return from_arrays("digits", x_tr, y_tr, x_te, y_te, val_fraction=val_fraction, seed=seed,
                       class_names=[str(i) for i in range(10)],
                       preprocessing=preprocessing("NCHW", 1 / 16, channels=1, source_size=[8, 8],
                                                   summary="8x8 digits, pixel values 0..16 scaled by 1/16"))
