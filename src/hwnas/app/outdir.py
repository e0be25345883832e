"""The output folder of a job: a run that fails before writing a file leaves no folder behind."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def output_folder(out: Path | None) -> Iterator[None]:
    """Run a job writing into ``out``; if it fails and ``out`` did not exist before, the folders it
    created are removed as long as they hold no file (what was written is kept)."""
    existed = out is None or out.exists()
    try:
        yield
    except BaseException:
        if not existed:
            _remove_empty(out)
        raise


def _remove_empty(folder: Path) -> None:
    if not folder.is_dir() or folder.is_symlink():
        return
    for sub in folder.iterdir():
        if sub.is_dir() and not sub.is_symlink():
            _remove_empty(sub)
    if not any(folder.iterdir()):
        folder.rmdir()
