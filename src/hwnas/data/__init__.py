"""Task datasets, all offline: ``digits`` (embedded default), ``mnist1d`` (generated locally),
``folder`` (the user's images or arrays), ``synthetic_text`` (a synthetic language, generated locally),
``tokens`` (the user's token-id sequences); installed packages add theirs under the entry-point
group ``hwnas.datasets``."""

from __future__ import annotations

from hwnas.core.errors import ConfigError
from hwnas.core.registry import Registry, accepted_options, unknown_options
from hwnas.data.base import TaskData, batches, from_arrays

DATASETS: Registry[TaskData] = Registry("dataset", "hwnas.datasets", {
    "digits": "hwnas.data.digits:load",
    "mnist1d": "hwnas.data.mnist1d:load",
    "folder": "hwnas.data.user:load",
    "synthetic_text": "hwnas.data.synthetic_text:load",
    "tokens": "hwnas.data.tokens:load",
})


#: options of earlier versions of the ``folder`` loader -> what replaced them
MOVED_OPTIONS = {"image_size": "resize: [height, width] (images now load at their own size)",
                 "grayscale": "channels: 1 (images now keep their own channel count)"}


def get_dataset(name: str, **options) -> TaskData:
    """Load a dataset by name; options are checked against the loader's parameters (the message names
    ``data.options`` and lists the options allowed)."""
    loader = DATASETS.get(name)
    bad = unknown_options(loader, options)
    if bad:
        hints = "".join(f"; {k} -> {MOVED_OPTIONS[k]}" for k in bad if name == "folder" and k in MOVED_OPTIONS)
        raise ConfigError(f"dataset {name!r}: unknown option(s) {bad} in data.options; allowed: "
                          f"{accepted_options(loader)}{hints}")
    if name == "folder" and "path" not in options:
        raise ConfigError("data.options.path: dataset 'folder' needs a path (a folder of class folders, .npz or x.npy/y.npy)")
    if name == "tokens" and "path" not in options:
        raise ConfigError("data.options.path: dataset 'tokens' needs a path (.npz, a folder with x.npy/y.npy, or .csv)")
    return DATASETS.create(name, **options)


__all__ = ["TaskData", "batches", "from_arrays", "get_dataset", "DATASETS"]
