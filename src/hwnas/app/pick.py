"""Choose one network from a front: the best on one metric within bounds on any others (``hwnas pick``).

Reads ``front.csv`` of an output folder (``OUT`` for the default study, ``OUT/<study>`` for another;
see :mod:`hwnas.app.study_folder`) and, when present, ``front.json`` for which way each metric is
better and which objectives the search used. Without ``front.json`` (a table search) a metric's
direction is read from its name (a cost such as ``latency_ms`` is minimised, a quality maximised;
:func:`hwnas.evaluators.base.kind_from_name`).

The default ranking metric is the search's first quality objective as ``front.csv`` names it
(``val_accuracy`` on the train-once job: the split the front was chosen on, so the test
``accuracy`` beside it stays an unbiased estimate); ``by`` names any other column. Ties go to the
row listed first (``front.csv`` lists the train-once front cheapest first).
"""

from __future__ import annotations

import builtins
import csv
import json
import math
import shutil
from dataclasses import dataclass
from pathlib import Path

from hwnas.app.study_folder import studies_with_front, study_dir
from hwnas.core.errors import ConfigError, DataError

#: front.csv columns that are not metrics
TEXT_COLUMNS = ("arch", "model", "number", "state", "error")


@dataclass
class Pick:
    """The chosen front member: its ``front.csv`` row (metrics as numbers), the metric it won on and its model."""

    row: dict
    by: str
    direction: str
    folder: Path
    model: Path | None
    copied: Path | None = None


def parse_bounds(items: list[str] | None, flag: str) -> dict[str, float]:
    """``["latency_ms=0.05", ...]`` -> ``{"latency_ms": 0.05}``; ``flag`` names the option in errors."""
    bounds: dict[str, float] = {}
    for item in items or []:
        metric, sep, value = item.partition("=")
        metric = metric.strip()
        if not sep or not metric:
            raise ConfigError(f"{flag} {item!r}: write METRIC=VALUE, e.g. {flag} latency_ms=0.05")
        try:
            bounds[metric] = float(value)
        except ValueError:
            raise ConfigError(f"{flag} {item!r}: {value!r} is not a number") from None
        if not math.isfinite(bounds[metric]):
            raise ConfigError(f"{flag} {item!r}: the bound must be a finite number")
    return bounds


def read_front(folder: Path) -> tuple[list[dict], list[str], dict]:
    """Rows of ``folder/front.csv`` (metric columns as floats), its metric columns, and ``front.json`` (or {})."""
    path = folder / "front.csv"
    if not path.is_file():
        studies = studies_with_front(folder)
        hint = (f"; studies with a front in this folder: {studies} (choose one with study / --study)"
                if studies else "; run `hwnas search` into it first")
        raise DataError(f"{path} not found{hint}")
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise DataError(f"{path} holds no front member")
    metrics = []
    for c in rows[0]:
        if c in TEXT_COLUMNS or c is None:
            continue
        try:
            for r in rows:
                float(r[c])
        except (TypeError, ValueError):
            continue
        metrics.append(c)
    for r in rows:
        for c in metrics:
            r[c] = float(r[c])
    info_path = folder / "front.json"
    info = {}
    if info_path.is_file():
        try:
            info = json.loads(info_path.read_text())
        except json.JSONDecodeError as e:
            raise DataError(f"{info_path} is not valid JSON ({e})") from None
    return rows, metrics, info


def _direction(metric: str, info: dict) -> str:
    from hwnas.evaluators.base import kind_from_name

    known = info.get("directions") or {}
    if metric in known:
        return known[metric]
    return "min" if kind_from_name(metric).is_cost else "max"


def _default_by(metrics: list[str], info: dict) -> str:
    """The first objective the search maximised a quality on, else the first quality column."""
    from hwnas.evaluators.base import kind_from_name

    for text in info.get("selected_on") or []:
        metric, _, _ = text.rpartition(":")
        if metric in metrics and not kind_from_name(metric).is_cost:
            return metric
    for m in metrics:
        if not kind_from_name(m).is_cost:
            return m
    raise DataError(f"front.csv has no quality metric to rank by; name one with by / --by from {metrics}")


def _meets(row: dict, metric: str, bound: float, upper: bool) -> bool:
    v = row[metric]
    return not math.isnan(v) and (v <= bound if upper else v >= bound)


def _violation(row: dict, bounds: list[tuple[str, float, bool]]) -> float:
    """How far a row lies outside the bounds, each relative to its bound (0 inside)."""
    total = 0.0
    for metric, bound, upper in bounds:
        v = row[metric]
        if math.isnan(v):
            return math.inf
        gap = (v - bound) if upper else (bound - v)
        total += builtins.max(gap, 0.0) / (abs(bound) or 1.0)
    return total


def pick(out_dir: str | Path, max: dict[str, float] | None = None, min: dict[str, float] | None = None,
         by: str | None = None, copy_to: str | Path | None = None, study: str | None = None) -> Pick:
    """The best front member of ``out_dir`` on ``by`` among those with ``metric <= max[metric]`` and
    ``metric >= min[metric]``; its model copied to ``copy_to`` when given (a folder keeps its file name).

    ``study`` names a study other than the default (its front is in ``out_dir/<study>``). Raises
    ConfigError naming the metrics ``front.csv`` has for an unknown metric, and DataError naming the
    closest member and its values when no member meets the bounds.
    """
    folder = study_dir(out_dir, study)
    rows, metrics, info = read_front(folder)
    bounds = [(m, _number(b, "max", m), True) for m, b in (max or {}).items()]
    bounds += [(m, _number(b, "min", m), False) for m, b in (min or {}).items()]
    by = by or _default_by(metrics, info)
    for metric in [by] + [m for m, _, _ in bounds]:
        if metric not in metrics:
            raise ConfigError(f"metric {metric!r} is not in {folder / 'front.csv'}; its metrics: {metrics}")
    direction = _direction(by, info)
    inside = [r for r in rows if all(_meets(r, m, b, upper) for m, b, upper in bounds)]
    if not inside:
        closest = builtins.min(rows, key=lambda r: _violation(r, bounds))
        wanted = " and ".join(f"{m} {'<=' if upper else '>='} {b:g}" for m, b, upper in bounds)
        values = ", ".join(f"{m} {closest[m]:g}" for m in dict.fromkeys(m for m, _, _ in bounds))
        raise DataError(f"no member of the front in {folder / 'front.csv'} ({len(rows)} members) meets {wanted}; "
                        f"the closest is {_name(closest)} with {values}")
    candidates = [r for r in inside if not math.isnan(r[by])] or inside
    best = candidates[0]
    for r in candidates[1:]:
        if (r[by] > best[by]) if direction == "max" else (r[by] < best[by]):
            best = r
    model = folder / best["model"] if best.get("model") else None
    chosen = Pick(row=best, by=by, direction=direction, folder=folder, model=model)
    if copy_to is not None:
        chosen.copied = _copy(chosen, Path(copy_to))
    return chosen


def _number(value, kind: str, metric: str) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{kind} bound of {metric!r}: {value!r} is not a number") from None
    if not math.isfinite(out):
        raise ConfigError(f"{kind} bound of {metric!r}: {value!r} is not a finite number")
    return out


def _name(row: dict) -> str:
    return f"{row['model']} ({row.get('arch', '')})" if row.get("model") else f"arch {row.get('arch', '?')}"


def _copy(chosen: Pick, target: Path) -> Path:
    """Copy the chosen model to ``target`` (into it, when a folder); never replace another file."""
    if chosen.model is None:
        raise DataError(f"{chosen.folder / 'front.csv'} names no model file for {chosen.row.get('arch')} "
                        "(a table search, or export.onnx: false): nothing to copy")
    if not chosen.model.is_file():
        raise DataError(f"model {chosen.model} named in {chosen.folder / 'front.csv'} does not exist")
    if target.is_dir() or str(target).endswith(("/", "\\")):
        target = target / chosen.model.name
    if target.exists() and target.read_bytes() != chosen.model.read_bytes():
        raise DataError(f"{target} exists and is another file; remove it or copy to another path")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(chosen.model, target)
    return target
