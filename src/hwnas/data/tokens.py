"""The user's own token-id sequences for sequence classification: ``.npz``, ``x.npy``/``y.npy`` or CSV.

* ``.npz`` with integer arrays ``x`` ``(N, L)`` and ``y`` ``(N,)`` (optionally ``x_test``, ``y_test``,
  ``class_names``), or a folder holding ``x.npy`` and ``y.npy``: padded sequences, used as given.
* ``.csv`` with a header: a label column (``label_column``, default ``label``: class indices, or class
  names, numbered in sorted order) and a tokens column (``tokens_column``, default ``tokens``) of
  whitespace-separated ids; shorter sequences are padded with ``pad_id`` to the longest.

``vocab_size`` (default: the largest id + 1) bounds the ids; ``max_len`` (the positional embedding's
length, when known) bounds a sequence's length, i.e. up to its last token that is not ``pad_id``, so
trailing padding beyond ``max_len`` is cut off. An id outside ``0..vocab_size-1`` or a sequence longer
than ``max_len`` is a :class:`DataError` naming the file and the sample (and the CSV line). Never unpickled.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from hwnas.core.errors import DataError
from hwnas.data.base import TaskData, from_arrays, preprocessing
from hwnas.data.synthetic_text import as_token_ids


def _read_numpy(path: Path) -> dict[str, np.ndarray]:
    try:
        if path.is_dir():
            if not (path / "x.npy").exists() or not (path / "y.npy").exists():
                raise DataError(f"token folder {path}: expected x.npy and y.npy")
            return {k: np.load(path / f"{k}.npy", allow_pickle=False) for k in ("x", "y")}
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except DataError:
        raise
    except (OSError, ValueError) as e:
        raise DataError(f"cannot read numpy token data from {path}: {e}") from None


def _read_csv(path: Path, label_column: str, tokens_column: str, pad_id: int) -> dict[str, np.ndarray]:
    try:
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            fields = reader.fieldnames or []
            missing = [c for c in (label_column, tokens_column) if c not in fields]
            if missing:
                raise DataError(f"{path}: column(s) {missing} not found; columns are {fields} (set "
                                "data.options.label_column / tokens_column)")
            labels, seqs = [], []
            for i, row in enumerate(reader):
                try:
                    seqs.append([int(t) for t in (row[tokens_column] or "").split()])
                except ValueError:
                    raise DataError(f"{path} line {i + 2} (sample {i}): tokens {row[tokens_column]!r} are not "
                                    "whitespace-separated integer ids") from None
                labels.append((row[label_column] or "").strip())
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"cannot read CSV {path}: {e}") from None
    if not seqs:
        raise DataError(f"{path}: no rows")
    empty = [i for i, s in enumerate(seqs) if not s]
    if empty:
        raise DataError(f"{path} line {empty[0] + 2} (sample {empty[0]}): empty token sequence")
    x = np.full((len(seqs), max(map(len, seqs))), pad_id, np.int64)
    for i, s in enumerate(seqs):
        x[i, :len(s)] = s
    out = {"x": x}
    if all(lab.lstrip("-").isdigit() for lab in labels):
        out["y"] = np.array([int(lab) for lab in labels], np.int64)
    else:
        names = sorted(set(labels))
        out["y"] = np.array([names.index(lab) for lab in labels], np.int64)
        out["class_names"] = np.array(names)
    return out


def _where(path: Path, i: int, csv_file: bool, what: str) -> str:
    return f"{path} {what}sample {i}" + (f" (line {i + 2})" if csv_file else "")


def check_tokens(path: Path, x: np.ndarray, vocab_size: int, max_len: int | None, pad_id: int,
                 what: str = "", csv_file: bool = False) -> np.ndarray:
    """``x`` as int64 ``(N, L)`` ids in ``0..vocab_size-1``, no sequence longer than ``max_len`` (trailing
    ``pad_id`` cut to ``max_len``); a :class:`DataError` naming the first bad sample otherwise."""
    if x.ndim != 2:
        raise DataError(f"{path}: token ids {what or 'x'} need shape (N, L), got {x.shape}")
    if x.dtype.kind not in "iu":
        raise DataError(f"{path}: token ids {what or 'x'} must be integers, got dtype {x.dtype}")
    x = x.astype(np.int64)
    bad = np.argwhere((x < 0) | (x >= vocab_size))
    if len(bad):
        i, j = map(int, bad[0])
        raise DataError(f"{_where(path, i, csv_file, what + ' ' if what else '')}: token id {x[i, j]} at position "
                        f"{j} is outside the vocabulary 0..{vocab_size - 1} (vocab_size {vocab_size})")
    if max_len is not None and x.shape[1] > max_len:
        content = x != pad_id
        lengths = np.where(content.any(axis=1), x.shape[1] - np.argmax(content[:, ::-1], axis=1), 0)
        long = np.flatnonzero(lengths > max_len)
        if len(long):
            i = int(long[0])
            raise DataError(f"{_where(path, i, csv_file, what + ' ' if what else '')} holds {lengths[i]} tokens "
                            f"(up to its last non-pad token); the positional embedding allows max_len {max_len}"
                            + (f" ({len(long)} such samples)" if len(long) > 1 else ""))
        x = x[:, :max_len]
    return x


def load(path: str | Path, vocab_size: int | None = None, max_len: int | None = None, pad_id: int = 0,
         label_column: str = "label", tokens_column: str = "tokens", test_fraction: float = 0.2,
         val_fraction: float = 0.2, seed: int = 0) -> TaskData:
    """Token-id sequences and labels from ``path`` as a TaskData of int64 ids ``(N, L)`` (module docstring)."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"data path {path} does not exist")
    csv_file = path.suffix.lower() == ".csv"
    arrays = _read_csv(path, label_column, tokens_column, pad_id) if csv_file else _read_numpy(path)
    if "x" not in arrays or "y" not in arrays:
        raise DataError(f"{path}: needs arrays named 'x' and 'y', found {sorted(arrays)}")
    if ("x_test" in arrays) != ("y_test" in arrays):
        raise DataError(f"{path}: give both 'x_test' and 'y_test' or neither")
    for name, value in (("vocab_size", vocab_size), ("max_len", max_len)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise DataError(f"data.options.{name}: {value!r} must be a positive integer")
    ids = [a for k, a in arrays.items() if k in ("x", "x_test") and a.dtype.kind in "iu" and a.size]
    vocab = vocab_size if vocab_size is not None else int(max(int(a.max()) for a in ids)) + 1 if ids else 1
    x = check_tokens(path, arrays["x"], vocab, max_len, pad_id, csv_file=csv_file)
    x_test = arrays.get("x_test")
    if x_test is not None:
        x_test = check_tokens(path, x_test, vocab, max_len, pad_id, "x_test")
        width = max(x.shape[1], x_test.shape[1])  # pad both splits to one length
        x, x_test = (np.pad(a, ((0, 0), (0, width - a.shape[1])), constant_values=pad_id) for a in (x, x_test))
    names = arrays.get("class_names")
    if names is not None and (names.ndim != 1 or names.dtype.kind not in "US"):
        raise DataError(f"{path}: 'class_names' must be a 1-D array of strings, got {names.dtype} {names.shape}")
    prep = preprocessing("NL", 1.0, source_size=[int(x.shape[1])], vocab_size=vocab, dtype="int64", pad_id=pad_id,
                         summary=f"token ids of {path.name} (vocab_size {vocab}, padded with {pad_id} to "
                                 f"{x.shape[1]})")
    try:
        data = from_arrays(path.stem, x, arrays["y"], x_test, arrays.get("y_test"), test_fraction, val_fraction,
                           seed, class_names=None if names is None else [str(n) for n in names], preprocessing=prep)
    except DataError as e:
        raise DataError(f"{path}: {e}") from None
    return as_token_ids(data)
