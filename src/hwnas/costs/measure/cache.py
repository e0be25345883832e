"""The latency cache: measurements and pinned reference latencies in one JSON file per user.

Results are cached per device fingerprint
(:mod:`~hwnas.costs.measure.fingerprint`) and model structure
(:func:`model_key`), so the same model is never measured twice. The reference
model's latency is measured once per device and thread count and pinned in the
default cache file (:func:`reference_latency`), so measurements taken in
different processes or sessions share one scale; delete that file to re-pin it.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import threading
from dataclasses import fields
from pathlib import Path

from torch import nn

from hwnas.core.errors import CostModelError
from hwnas.costs.measure.fingerprint import device_fingerprint, fingerprint_id
from hwnas.costs.measure.timer import TIMER, LatencyResult, Reference


def default_cache_path() -> Path:
    """``$HWNAS_CACHE/latency.json`` (``~/.cache/hwnas/latency.json`` by default)."""
    return Path(os.environ.get("HWNAS_CACHE", Path.home() / ".cache" / "hwnas")) / "latency.json"


def _ref_key(threads: int) -> str:
    """The key of a pinned reference latency: thread count and timer (another timer's scale is not this one's)."""
    return f"{int(threads)}@{TIMER}"


def is_positive_ms(v) -> bool:
    """Whether ``v`` is a positive finite number (a JSON bool is not)."""
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0


class LatencyCache:
    """A JSON file of measurements and pinned reference latencies:
    ``{device id: {"device": fp, "reference_ms": {"threads@timer": ms}, "results": {model key: result}}}``.

    Writes are atomic (temporary file + rename) and merge with what other
    processes wrote meanwhile; a reference latency, once pinned, is never replaced.
    A file that is not such JSON, or that holds a reference latency or a result
    latency that is not a positive finite number (a hand edit, a damaged disk), is
    refused with a :class:`~hwnas.core.errors.CostModelError` naming the file and the
    entry: every latency on that device would otherwise be silently wrong. Delete
    the file (everything is measured again and the reference re-pinned) or fix
    the entry.
    """

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path is not None else default_cache_path()
        self._lock = threading.Lock()
        self._data = self._read()

    def _damaged(self, what: str) -> CostModelError:
        return CostModelError(f"latency cache {self.path}: {what}; delete the file (models are measured again and "
                              f"the reference latency re-pinned) or correct that entry")

    def _read(self) -> dict:
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return {}
        except OSError as e:
            raise self._damaged(f"cannot be read ({e.strerror or e})") from None
        except UnicodeDecodeError as e:
            raise self._damaged(f"is not UTF-8 text ({e})") from None
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as e:
            raise self._damaged(f"is not valid JSON ({e})") from None
        if not isinstance(data, dict):
            raise self._damaged(f"holds a {type(data).__name__}, not an object of devices")
        for dev, entry in data.items():
            if not isinstance(entry, dict):
                raise self._damaged(f"device {dev!r} holds a {type(entry).__name__}, not an object")
            refs, results = entry.get("reference_ms", {}), entry.get("results", {})
            if not isinstance(refs, dict) or not isinstance(results, dict):
                raise self._damaged(f"device {dev!r}: 'reference_ms' and 'results' must be objects")
            for threads, ms in refs.items():
                if not is_positive_ms(ms):
                    raise self._damaged(f"device {dev!r}: pinned reference latency reference_ms[{threads!r}] = "
                                        f"{ms!r} is not a positive number of milliseconds")
            for key, res in results.items():
                if isinstance(res, dict) and "latency_ms" in res and not is_positive_ms(res["latency_ms"]):
                    raise self._damaged(f"device {dev!r}: result {key!r} has latency_ms = {res['latency_ms']!r}, "
                                        f"not a positive number")
                if isinstance(res, dict) and "reference_ms" in res and not (
                        is_positive_ms(res["reference_ms"]) or res["reference_ms"] == 0):
                    raise self._damaged(f"device {dev!r}: result {key!r} has reference_ms = {res['reference_ms']!r}")
        return data

    def get(self, key: str, device: dict | None = None) -> LatencyResult | None:
        device = device or device_fingerprint()
        entry = self._data.get(fingerprint_id(device), {}).get("results", {}).get(key)
        if not isinstance(entry, dict) or set(entry) - {f.name for f in fields(LatencyResult)}:
            return None
        try:
            return LatencyResult(**entry, cached=True)
        except TypeError:  # an entry of another layout: measure again
            return None

    def _write(self, update) -> None:
        """Merge in-memory entries into what is on disk, apply ``update(disk)``, write atomically."""
        with self._lock:
            disk = self._read()
            for dev, entry in self._data.items():
                d = disk.setdefault(dev, {"device": entry.get("device"), "results": {}})
                d.setdefault("results", {}).update(entry.get("results", {}))
                for threads, ms in entry.get("reference_ms", {}).items():
                    d.setdefault("reference_ms", {}).setdefault(threads, ms)
            update(disk)
            self._data = disk
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
            tmp.write_text(json.dumps(disk, indent=1, sort_keys=True, allow_nan=False))
            os.replace(tmp, self.path)

    def put(self, key: str, result: LatencyResult) -> None:
        def update(disk):
            dev = fingerprint_id(result.device)
            disk.setdefault(dev, {"device": result.device, "results": {}})["results"][key] = result.to_dict()

        self._write(update)

    def reference(self, threads: int, device: dict | None = None) -> float | None:
        """The pinned reference latency (ms) for ``threads`` on this device, or None."""
        device = device or device_fingerprint()
        dev = fingerprint_id(device)
        ms = self._data.get(dev, {}).get("reference_ms", {}).get(_ref_key(threads))
        if ms is None:  # another process may have pinned it since
            ms = self._read().get(dev, {}).get("reference_ms", {}).get(_ref_key(threads))
        return None if ms is None else float(ms)  # _read refused any value that is not a positive number

    def pin_reference(self, threads: int, ms: float, device: dict | None = None) -> float:
        """Pin ``ms`` as the reference latency unless one is pinned already; returns the pinned value."""
        if not is_positive_ms(ms):
            raise CostModelError(f"latency: reference latency {ms!r} ms is not a positive number")
        device = device or device_fingerprint()
        dev = fingerprint_id(device)

        def update(disk):
            entry = disk.setdefault(dev, {"device": device, "results": {}})
            entry.setdefault("reference_ms", {}).setdefault(_ref_key(threads), float(ms))

        self._write(update)
        return float(self._data[dev]["reference_ms"][_ref_key(threads)])

    def __len__(self) -> int:
        return sum(len(e.get("results", {})) for e in self._data.values())


def model_key(model: nn.Module | str | Path, input_shape: tuple, runtime: str, threads: int) -> str:
    """A key for a model's structure (not its weight values), input shape, runtime, threads and the timer."""
    if isinstance(model, nn.Module):
        shapes = [(n, tuple(p.shape)) for n, p in model.state_dict().items()]
        text = repr(model) + repr(shapes)
    else:
        text = hashlib.sha256(Path(model).read_bytes()).hexdigest()
    text += f"|{tuple(input_shape)}|{runtime}|{threads}|{TIMER}"
    return hashlib.sha256(text.encode()).hexdigest()[:24]


_PINNED: dict[tuple[str, int, str], float] = {}


def reference_latency(threads: int = 1) -> float:
    """The reference model's latency (ms) with ``threads`` threads on this device: the value pinned in the
    default cache file (:func:`default_cache_path`), measured and pinned there on first use."""
    device = device_fingerprint()
    path = default_cache_path()
    memo = (str(path), threads, fingerprint_id(device))
    if memo not in _PINNED:
        cache = LatencyCache(path)
        ms = cache.reference(threads, device)
        if ms is None:
            ms = Reference.get(threads).measure()
            try:
                ms = cache.pin_reference(threads, ms, device)
            except OSError:  # a read-only cache: this process's own measurement sets the scale
                pass
        _PINNED[memo] = ms
    return _PINNED[memo]
