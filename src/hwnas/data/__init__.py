"""Task datasets, all offline: ``digits`` (embedded default), ``mnist1d`` (generated locally), ``folder`` (user data)."""

from __future__ import annotations

import inspect

from hwnas.core.errors import ConfigError
from hwnas.data import digits, mnist1d, user
from hwnas.data.base import TaskData, batches, from_arrays

DATASETS = {"digits": digits.load, "mnist1d": mnist1d.load, "folder": user.load}


def get_dataset(name: str, **options) -> TaskData:
    """Load a dataset by name; options are checked against the loader's parameters."""
    if name not in DATASETS:
        raise ConfigError(f"data.name: unknown dataset {name!r}; allowed {sorted(DATASETS)}")
    loader = DATASETS[name]
    params = inspect.signature(loader).parameters
    if not any(p.kind == p.VAR_KEYWORD for p in params.values()):
        bad = sorted(set(options) - set(params))
        if bad:
            raise ConfigError(f"data.options: unknown option(s) {bad} for dataset {name!r}; allowed {sorted(params)}")
    if name == "folder" and "path" not in options:
        raise ConfigError("data.options.path: dataset 'folder' needs a path (a folder of class folders, .npz or x.npy/y.npy)")
    return loader(**options)


__all__ = ["TaskData", "batches", "from_arrays", "get_dataset", "DATASETS"]
