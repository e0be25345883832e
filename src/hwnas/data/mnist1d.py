"""MNIST-1D (Greydanus 2020), generated locally with the ``mnist1d`` package: nothing is downloaded.

Signals of length 40 as ``(N, 1, 40)`` float32, 10 classes; the package's own
train/test split (4000/1000 by default). Generation takes a few seconds, so the
arrays are kept in a ``.npz`` (no pickle) under the cache folder, keyed by the
generation arguments.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from hwnas.core.errors import DataError
from hwnas.data.base import TaskData, from_arrays, preprocessing


def _cache_dir() -> Path:
    return Path(os.environ.get("HWNAS_CACHE", Path.home() / ".cache" / "hwnas"))


def generate(num_samples: int = 5000, seed: int = 42) -> dict[str, np.ndarray]:
    """Arrays ``x, y, x_test, y_test`` from mnist1d's generator (its default settings otherwise)."""
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError as e:  # pragma: no cover - dependency declared in pyproject
        raise DataError(f"MNIST-1D needs the 'mnist1d' package: {e}") from None
    args = get_dataset_args()
    args.num_samples = int(num_samples)
    args.seed = int(seed)
    key = hashlib.sha256(json.dumps({k: v for k, v in vars(args).items() if k != "url"},
                                    sort_keys=True, default=str).encode()).hexdigest()[:16]
    path = _cache_dir() / f"mnist1d-{key}.npz"
    if path.exists():
        try:
            with np.load(path, allow_pickle=False) as z:
                return {k: z[k] for k in ("x", "y", "x_test", "y_test")}
        except (OSError, ValueError, KeyError):
            path.unlink(missing_ok=True)  # corrupt cache entry: regenerate
    d = make_dataset(args)
    out = {k: np.asarray(d[k]) for k in ("x", "y", "x_test", "y_test")}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
    np.savez(tmp, **out)
    os.replace(tmp, path)
    return out


def load(num_samples: int = 5000, seed: int = 42, val_fraction: float = 0.2) -> TaskData:
    """MNIST-1D as a TaskData with inputs ``(N, 1, 40)``."""
    d = generate(num_samples, seed)
    return from_arrays("mnist1d", d["x"][:, None, :], d["y"], d["x_test"][:, None, :], d["y_test"],
                       val_fraction=val_fraction, seed=0, class_names=[str(i) for i in range(10)],
                       preprocessing=preprocessing("NCL", 1.0, channels=1, source_size=[int(d["x"].shape[1])],
                                                   summary="MNIST-1D signals as generated, not scaled"))
