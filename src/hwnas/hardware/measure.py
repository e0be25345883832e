"""Latency measured on this machine's CPU, through ONNX Runtime or PyTorch eager.

One timer for everything that says "measured latency" (the ``measure`` cost
model, the search pipeline's ``latency_ms`` column, the ``lut`` cost model's
kernels and calibration networks, the benchmarks). A measurement:

1. warms the model up and picks ``number``, the runs per timed *block*, so a
   block lasts about ``block_ms`` (0.25 ms by default: shorter than a scheduler
   time slice, so on a busy machine most blocks run without being pre-empted,
   and long enough that timer resolution and per-call jitter average out);
2. times ``repeats`` blocks of the model, each paired with a block of a fixed
   *reference* model (ONNX Runtime, same thread count), alternating which goes
   first;
3. takes the 10th percentile of the model's per-inference block times over the
   10th percentile of the reference's, times the reference's latency on this
   device (``reference_ms``).

Pre-emption and interrupts only ever add time, so a low percentile of short
blocks ignores them where a mean or a long block cannot. Slower spells of the
whole machine (other jobs' memory traffic, frequency changes, a busy host) slow
the model and the interleaved reference alike and cancel in the ratio. The
reference's latency is measured once per device and pinned in the default
latency cache file (``$HWNAS_CACHE/latency.json``, ``reference_ms`` per thread
count), so measurements taken in different processes or sessions share one
scale; delete that file to re-pin it. Each result also reports the median, IQR and coefficient of variation
of its drift-corrected block times.

Results are cached in a JSON file per device fingerprint (CPU model, cores,
library versions) and model structure, so the same model is never measured twice.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import os
import platform
import threading
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import torch
from torch import nn

from hwnas.errors import CostModelError
from hwnas.hardware.base import CostModel, Workload

RUNTIMES = ("onnxruntime", "torch")
#: enters every cache key, so results of an older timer are never served as this one's
TIMER = "paired-p10/1"
#: the percentile of block times taken as the latency
QUANTILE = 10.0


@dataclass
class LatencyResult:
    """One latency measurement (per-inference milliseconds).

    ``latency_ms`` is the estimate (see the module docstring); ``median_ms`` and
    ``iqr_ms`` describe the drift-corrected block times (each model block over its
    paired reference block, times ``reference_ms``), and ``cv`` is their robust
    coefficient of variation, 0.7413 * IQR / median (std / mean for a normal
    distribution, but not inflated by the few blocks a pre-emption hits).
    ``number`` is the runs per model block, ``repeats`` the block pairs timed.
    """

    latency_ms: float
    median_ms: float
    iqr_ms: float
    cv: float
    repeats: int
    threads: int
    runtime: str
    device: dict
    number: int = 1
    reference_ms: float = 0.0
    cached: bool = False

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("cached")
        return d


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_fingerprint() -> dict:
    """What identifies the measuring device: CPU model, cores, machine, OS, ONNX Runtime and torch versions."""
    try:
        import onnxruntime as ort

        ort_version = ort.__version__
    except ImportError:  # pragma: no cover
        ort_version = None
    return {"cpu": _cpu_model(), "cores": os.cpu_count(), "machine": platform.machine(), "system": platform.system(),
            "onnxruntime": ort_version, "torch": torch.__version__.split("+")[0]}


def _fingerprint_id(fp: dict) -> str:
    return hashlib.sha256(json.dumps(fp, sort_keys=True).encode()).hexdigest()[:16]


def default_cache_path() -> Path:
    """``$HWNAS_CACHE/latency.json`` (``~/.cache/hwnas/latency.json`` by default)."""
    return Path(os.environ.get("HWNAS_CACHE", Path.home() / ".cache" / "hwnas")) / "latency.json"


class LatencyCache:
    """A JSON file of measurements and pinned reference latencies:
    ``{device id: {"device": fp, "reference_ms": {threads: ms}, "results": {model key: result}}}``.

    Writes are atomic (temporary file + rename) and merge with what other
    processes wrote meanwhile; a reference latency, once pinned, is never replaced.
    """

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path is not None else default_cache_path()
        self._lock = threading.Lock()
        self._data = self._read()

    def _read(self) -> dict:
        if not self.path.exists():
            return {}
        try:
            data = json.loads(self.path.read_text())
            return data if isinstance(data, dict) else {}
        except (OSError, json.JSONDecodeError):
            return {}  # a damaged cache only costs re-measurement

    def get(self, key: str, device: dict | None = None) -> LatencyResult | None:
        device = device or device_fingerprint()
        entry = self._data.get(_fingerprint_id(device), {}).get("results", {}).get(key)
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
            tmp.write_text(json.dumps(disk, indent=1, sort_keys=True))
            os.replace(tmp, self.path)

    def put(self, key: str, result: LatencyResult) -> None:
        def update(disk):
            dev = _fingerprint_id(result.device)
            disk.setdefault(dev, {"device": result.device, "results": {}})["results"][key] = result.to_dict()

        self._write(update)

    def reference(self, threads: int, device: dict | None = None) -> float | None:
        """The pinned reference latency (ms) for ``threads`` on this device, or None."""
        device = device or device_fingerprint()
        dev = _fingerprint_id(device)
        ms = self._data.get(dev, {}).get("reference_ms", {}).get(str(threads))
        if ms is None:  # another process may have pinned it since
            ms = self._read().get(dev, {}).get("reference_ms", {}).get(str(threads))
        return float(ms) if isinstance(ms, (int, float)) and ms > 0 else None

    def pin_reference(self, threads: int, ms: float, device: dict | None = None) -> float:
        """Pin ``ms`` as the reference latency unless one is pinned already; returns the pinned value."""
        device = device or device_fingerprint()
        dev = _fingerprint_id(device)

        def update(disk):
            entry = disk.setdefault(dev, {"device": device, "results": {}})
            entry.setdefault("reference_ms", {}).setdefault(str(threads), float(ms))

        self._write(update)
        return float(self._data[dev]["reference_ms"][str(threads)])

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


@contextlib.contextmanager
def _torch_threads(n: int):
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


@contextlib.contextmanager
def _no_gc():
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _block(run, number: int) -> float:
    """Seconds per run over one block of ``number`` back-to-back runs."""
    t0 = time.perf_counter()
    for _ in range(number):
        run()
    return (time.perf_counter() - t0) / number


def _runs_per_block(run, block_ms: float) -> int:
    """Runs per block so a block lasts about ``block_ms`` (per-run time: the fastest of 5 short blocks)."""
    per_run = min(_block(run, 3) for _ in range(5))
    return max(1, min(1 << 16, int(round(block_ms * 1e-3 / max(per_run, 1e-9)))))


def _ort_runner(model: nn.Module | str | Path | bytes, input_shape: tuple, threads: int):
    from hwnas.compress.onnx_export import ort_session, to_onnx_bytes

    source = to_onnx_bytes(model, input_shape, dynamic_batch=False) if isinstance(model, nn.Module) else model
    sess = ort_session(source, threads)
    feed = {sess.get_inputs()[0].name: np.random.default_rng(0).standard_normal(input_shape).astype(np.float32)}
    return lambda: sess.run(None, feed)


class _Reference:
    """The fixed reference model (a small inverted-residual block in ONNX Runtime), one per thread count."""

    _by_threads: dict[int, _Reference] = {}
    _lock = threading.Lock()

    def __init__(self, threads: int, block_ms: float):
        gen = torch.Generator().manual_seed(0)
        module = nn.Sequential(nn.Conv2d(16, 64, 1), nn.ReLU(), nn.Conv2d(64, 64, 3, padding=1, groups=64),
                               nn.ReLU(), nn.Conv2d(64, 16, 1)).eval()
        with torch.no_grad():
            for p in module.parameters():
                p.copy_(torch.randn(p.shape, generator=gen) * 0.1)
        self.run = _ort_runner(module, (1, 16, 8, 8), threads)
        for _ in range(20):
            self.run()
        self.number = _runs_per_block(self.run, block_ms)
        self.measured_ms: float | None = None  # this process's own measurement, if one was needed

    @classmethod
    def get(cls, threads: int, block_ms: float = 0.25) -> _Reference:
        with cls._lock:
            if threads not in cls._by_threads:
                cls._by_threads[threads] = cls(threads, block_ms)
            return cls._by_threads[threads]

    def measure(self, chunks: int = 5, blocks: int = 80) -> float:
        """The reference's latency (ms): the lowest of ``chunks`` 10th percentiles, chunks spaced 20 ms apart,
        so one slow spell of the machine does not set the scale."""
        if self.measured_ms is None:
            best = np.inf
            with _no_gc():
                for c in range(chunks):
                    if c:
                        time.sleep(0.02)
                    t = np.array([_block(self.run, self.number) for _ in range(blocks)])
                    best = min(best, float(np.percentile(t, QUANTILE)))
            self.measured_ms = best * 1e3
        return self.measured_ms


_PINNED: dict[tuple[str, int, str], float] = {}


def reference_latency(threads: int = 1) -> float:
    """The reference model's latency (ms) with ``threads`` threads on this device: the value pinned in the
    default cache file (:func:`default_cache_path`), measured and pinned there on first use."""
    device = device_fingerprint()
    path = default_cache_path()
    memo = (str(path), threads, _fingerprint_id(device))
    if memo not in _PINNED:
        cache = LatencyCache(path)
        ms = cache.reference(threads, device)
        if ms is None:
            ms = _Reference.get(threads).measure()
            try:
                ms = cache.pin_reference(threads, ms, device)
            except OSError:  # a read-only cache: this process's own measurement sets the scale
                pass
        _PINNED[memo] = ms
    return _PINNED[memo]


def _rescaled(result: LatencyResult, scale: float) -> LatencyResult:
    """A result measured against another reference latency, put on the scale ``scale``."""
    if not result.reference_ms or result.reference_ms == scale:
        return result
    f = scale / result.reference_ms
    return LatencyResult(**{**result.to_dict(), "latency_ms": result.latency_ms * f,
                            "median_ms": result.median_ms * f, "iqr_ms": result.iqr_ms * f,
                            "reference_ms": scale}, cached=result.cached)


def _time_paired(run, ref: _Reference, warmup: int, repeats: int, block_ms: float):
    """(model block times, reference block times) in seconds per run, and the model's runs per block."""
    for _ in range(warmup):
        run()
    number = _runs_per_block(run, block_ms)
    t, r = np.empty(repeats), np.empty(repeats)
    with _no_gc():
        for i in range(repeats):
            if i % 2 == 0:
                t[i] = _block(run, number)
                r[i] = _block(ref.run, ref.number)
            else:
                r[i] = _block(ref.run, ref.number)
                t[i] = _block(run, number)
    return t, r, number


def measure_latency(model: nn.Module | str | Path, input_shape: tuple, runtime: str = "onnxruntime",
                    threads: int = 1, warmup: int = 10, repeats: int = 200, cache: LatencyCache | None = None,
                    block_ms: float = 0.25, key: str | None = None,
                    reference_ms: float | None = None) -> LatencyResult:
    """Per-inference latency (ms) of ``model`` on one input of ``input_shape`` (batch included).

    ``model`` is a module or an ``.onnx`` file; ``runtime`` is ``"onnxruntime"``
    (modules are exported to ONNX first) or ``"torch"`` (eager, modules only).
    ``repeats`` blocks of about ``block_ms`` each are timed, paired with blocks of
    the reference model (module docstring). With a ``cache``, a model already
    measured on this device (same structure, input shape, runtime, threads) is
    returned without measuring. The scale is the reference latency pinned for this
    device (:func:`reference_latency`) unless ``reference_ms`` overrides it (a
    lookup table passes the one it was built on); cached results measured on
    another scale are converted to this one.
    """
    if runtime not in RUNTIMES:
        raise CostModelError(f"latency runtime {runtime!r} unknown; allowed {list(RUNTIMES)}")
    if threads < 1 or repeats < 3 or warmup < 0 or not block_ms > 0:
        raise CostModelError(f"latency: threads ({threads}) >= 1, repeats ({repeats}) >= 3, warmup ({warmup}) >= 0, "
                             f"block_ms ({block_ms}) > 0")
    if not isinstance(model, nn.Module) and not Path(model).is_file():
        raise CostModelError(f"latency: model file {model} does not exist")
    if runtime == "torch" and not isinstance(model, nn.Module):
        raise CostModelError("latency: the 'torch' runtime measures nn.Module objects; use 'onnxruntime' for .onnx files")
    input_shape = tuple(int(v) for v in input_shape)
    device = device_fingerprint()
    key = key or model_key(model, input_shape, runtime, threads)
    scale = float(reference_ms) if reference_ms is not None else reference_latency(threads)
    if cache is not None:
        hit = cache.get(key, device)
        if hit is not None:
            return _rescaled(hit, scale)
    ref = _Reference.get(threads)
    if runtime == "onnxruntime":
        run = _ort_runner(model if isinstance(model, nn.Module) else str(model), input_shape, threads)
        t, r, number = _time_paired(run, ref, warmup, repeats, block_ms)
    else:
        was_training = model.training
        model.eval()
        xt = torch.from_numpy(np.random.default_rng(0).standard_normal(input_shape).astype(np.float32))
        try:
            with _torch_threads(threads), torch.inference_mode():
                t, r, number = _time_paired(lambda: model(xt), ref, warmup, repeats, block_ms)
        finally:
            model.train(was_training)
    latency = float(np.percentile(t, QUANTILE) / np.percentile(r, QUANTILE)) * scale
    corrected = t / r * scale
    q1, med, q3 = np.percentile(corrected, [25, 50, 75])
    result = LatencyResult(latency, float(med), float(q3 - q1), float(0.7413 * (q3 - q1) / med), repeats,
                           threads, runtime, device, number, scale)
    if cache is not None:
        cache.put(key, result)
    return result


class MeasuredLatency(CostModel):
    """Latency measured on this CPU of the module a workload builds (``latency_ms`` and its IQR)."""

    name = "measure"
    units = {"latency_ms": "ms", "latency_iqr_ms": "ms"}

    def __init__(self, runtime: str = "onnxruntime", threads: int = 1, warmup: int = 10, repeats: int = 200,
                 cache: LatencyCache | str | Path | None = None):
        if runtime not in RUNTIMES:
            raise CostModelError(f"measure: runtime {runtime!r} unknown; allowed {list(RUNTIMES)}")
        self.runtime, self.threads, self.warmup, self.repeats = runtime, threads, warmup, repeats
        self.cache = cache if isinstance(cache, LatencyCache) or cache is None else LatencyCache(cache)

    def cost(self, workload: Workload) -> dict[str, float]:
        if workload.build is None:
            raise CostModelError(f"measure: workload {workload.key} has no build(); a measured latency needs a model")
        r = measure_latency(workload.build(), workload.input_shape, self.runtime, self.threads, self.warmup,
                            self.repeats, self.cache)
        return {"latency_ms": r.latency_ms, "latency_iqr_ms": r.iqr_ms}

    def describe(self) -> dict:
        return {"cost_model": self.name, "runtime": self.runtime, "threads": self.threads, "timer": TIMER,
                "device": device_fingerprint()}
