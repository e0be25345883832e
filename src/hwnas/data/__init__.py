"""Task datasets, all offline: ``digits`` (embedded default), ``mnist1d`` (generated locally),
``folder`` (the user's images or arrays); installed packages add theirs under the entry-point
group ``hwnas.datasets``."""

from __future__ import annotations

from hwnas.core.errors import ConfigError
from hwnas.core.registry import Registry
from hwnas.data.base import TaskData, batches, from_arrays

DATASETS: Registry[TaskData] = Registry("dataset", "hwnas.datasets", {
    "digits": "hwnas.data.digits:load",
    "mnist1d": "hwnas.data.mnist1d:load",
    "folder": "hwnas.data.user:load",
})


def get_dataset(name: str, **options) -> TaskData:
    """Load a dataset by name; options are checked against the loader's parameters."""
    if name == "folder" and "path" not in options:
        raise ConfigError("data.options.path: dataset 'folder' needs a path (a folder of class folders, .npz or x.npy/y.npy)")
    return DATASETS.create(name, **options)


__all__ = ["TaskData", "batches", "from_arrays", "get_dataset", "DATASETS"]
