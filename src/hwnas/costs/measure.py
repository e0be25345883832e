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
   first, and notes for each block whether the thread was switched out during it
   (its context-switch count from ``getrusage``, Linux); while fewer than half of
   either side's blocks ran unswitched, more pairs are timed (up to ``EXTEND`` x
   ``repeats``);
3. if the reference ran more than ``SPELL`` (4 %) slower than its fastest in this
   process (a slow spell of the whole machine), times the pairs again, 10 ms
   later, up to ``RETRIES`` times, and keeps the round with the fastest reference;
4. takes the ``QUANTILE`` (5th) percentile of the model's unswitched per-inference
   block times over that of the reference's, times the reference's latency on this
   device (``reference_ms``).

Pre-emption and interrupts only ever add time. A block the scheduler switched out
is 10-100x slower and is dropped outright; a low percentile of the rest ignores
interrupts and short stalls. (Without the drop, a 1.1 ms PyTorch-eager block, longer
than a time slice, was switched out in about half the blocks under load 5, and the
10th percentile landed among them.) Slower spells of the whole machine (frequency
changes, a busy host; a memory-streaming job on the other core did not slow these
small models) slow the model and the interleaved reference, but not by the same
factor (a spell that slowed the reference 35 % and a 37 us model 41 % moved their
ratio 4 %), so rounds taken in a spell are re-timed rather than only divided out. The
reference's latency is measured once per device and pinned in the default latency
cache file (``$HWNAS_CACHE/latency.json``, ``reference_ms`` per thread count and
timer), so measurements taken in different processes or sessions share one scale;
delete that file to re-pin it. Each result also reports the median, IQR and
coefficient of variation of its drift-corrected block times, the pairs timed and
the model blocks kept.

Results are cached in a JSON file per device fingerprint (CPU model, cores,
library versions) and model structure, so the same model is never measured twice.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import math
import os
import platform
import threading
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import torch
from torch import nn

from hwnas.core.errors import CostModelError
from hwnas.core.layers import Workload
from hwnas.costs.base import CostModel

try:  # per-thread context-switch counts (Linux), to drop the timed blocks the scheduler interrupted
    import resource

    _RUSAGE = getattr(resource, "RUSAGE_THREAD", resource.RUSAGE_SELF)
except ImportError:  # pragma: no cover - Windows: no counts, every block is kept
    resource = None
    _RUSAGE = None

RUNTIMES = ("onnxruntime", "torch")
#: enters every cache key, so results of an older timer are never served as this one's
TIMER = "paired-p5-unswitched/2"
#: the percentile of block times taken as the latency
QUANTILE = 5.0
#: a measurement whose reference runs this much slower than its fastest in the process is timed again ...
SPELL = 0.04
#: ... at most this many times
RETRIES = 2
#: at most this many times ``repeats`` block pairs are timed when the scheduler interrupts most blocks
EXTEND = 4


@dataclass
class LatencyResult:
    """One latency measurement (per-inference milliseconds).

    ``latency_ms`` is the estimate (see the module docstring); ``median_ms`` and
    ``iqr_ms`` describe the drift-corrected block times (each model block over its
    paired reference block, times ``reference_ms``), and ``cv`` is their robust
    coefficient of variation, 0.7413 * IQR / median (std / mean for a normal
    distribution, but not inflated by the few blocks a pre-emption hits).
    ``number`` is the runs per model block, ``repeats`` the block pairs asked for,
    ``pairs`` those timed in the round kept (more on a busy machine), ``kept`` the
    model blocks that ran without a context switch, ``rounds`` the rounds timed.
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
    pairs: int = 0
    kept: int = 0
    rounds: int = 1
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


def _ref_key(threads: int) -> str:
    """The key of a pinned reference latency: thread count and timer (another timer's scale is not this one's)."""
    return f"{int(threads)}@{TIMER}"


def _positive(v) -> bool:
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
                if not _positive(ms):
                    raise self._damaged(f"device {dev!r}: pinned reference latency reference_ms[{threads!r}] = "
                                        f"{ms!r} is not a positive number of milliseconds")
            for key, res in results.items():
                if isinstance(res, dict) and "latency_ms" in res and not _positive(res["latency_ms"]):
                    raise self._damaged(f"device {dev!r}: result {key!r} has latency_ms = {res['latency_ms']!r}, "
                                        f"not a positive number")
                if isinstance(res, dict) and "reference_ms" in res and not (
                        _positive(res["reference_ms"]) or res["reference_ms"] == 0):
                    raise self._damaged(f"device {dev!r}: result {key!r} has reference_ms = {res['reference_ms']!r}")
        return data

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
            tmp.write_text(json.dumps(disk, indent=1, sort_keys=True, allow_nan=False))
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
        ms = self._data.get(dev, {}).get("reference_ms", {}).get(_ref_key(threads))
        if ms is None:  # another process may have pinned it since
            ms = self._read().get(dev, {}).get("reference_ms", {}).get(_ref_key(threads))
        return None if ms is None else float(ms)  # _read refused any value that is not a positive number

    def pin_reference(self, threads: int, ms: float, device: dict | None = None) -> float:
        """Pin ``ms`` as the reference latency unless one is pinned already; returns the pinned value."""
        if not _positive(ms):
            raise CostModelError(f"latency: reference latency {ms!r} ms is not a positive number")
        device = device or device_fingerprint()
        dev = _fingerprint_id(device)

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


def _switches() -> int:
    """Context switches of the calling thread so far (voluntary + involuntary; 0 where the OS does not say)."""
    if _RUSAGE is None:
        return 0
    ru = resource.getrusage(_RUSAGE)
    return ru.ru_nvcsw + ru.ru_nivcsw


def _block(run, number: int) -> tuple[float, bool]:
    """Seconds per run over one block of ``number`` back-to-back runs, and whether the block ran
    without being switched out (pre-empted, or blocked in the kernel)."""
    s0 = _switches()
    t0 = time.perf_counter()
    for _ in range(number):
        run()
    t1 = time.perf_counter()
    return (t1 - t0) / number, _switches() == s0


def _runs_per_block(run, block_ms: float) -> int:
    """Runs per block so a block lasts about ``block_ms`` (per-run time: the fastest of 8 short blocks)."""
    per_run = min(_block(run, 3)[0] for _ in range(8))
    return max(1, min(1 << 16, int(round(block_ms * 1e-3 / max(per_run, 1e-9)))))


def _ort_runner(model: nn.Module | str | Path | bytes, input_shape: tuple, threads: int):
    from hwnas.export.onnx import ort_session, to_onnx_bytes

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
        self.measured_ms: float | None = None  # this process's own measurement (ms)
        self.best: float | None = None  # the fastest the reference ran in this process (s per run)

    @classmethod
    def get(cls, threads: int, block_ms: float = 0.25) -> _Reference:
        with cls._lock:
            if threads not in cls._by_threads:
                cls._by_threads[threads] = cls(threads, block_ms)
            return cls._by_threads[threads]

    def measure(self, chunks: int = 4, blocks: int = 60) -> float:
        """The reference's latency (ms) in this process: the lowest of ``chunks`` low percentiles of unswitched
        blocks, chunks spaced 10 ms apart, so one slow spell of the machine does not set it."""
        if self.measured_ms is None:
            best = np.inf
            with _no_gc():
                for c in range(chunks):
                    if c:
                        time.sleep(0.01)
                    t, ok = map(np.array, zip(*(_block(self.run, self.number) for _ in range(blocks))))
                    best = min(best, _low(t, ok))
            self.measured_ms = best * 1e3
            self.best = best if self.best is None else min(self.best, best)
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


def _low(times: np.ndarray, clean: np.ndarray) -> float:
    """The ``QUANTILE`` percentile of the blocks that ran without a context switch (of all blocks when fewer
    than 3 did)."""
    kept = times[clean] if np.count_nonzero(clean) >= 3 else times
    return float(np.percentile(kept, QUANTILE))


def _time_paired(run, ref: _Reference, warmup: int, repeats: int, block_ms: float):
    """Model and reference block times (seconds per run), whether each block ran without a context switch,
    and the model's runs per block.

    ``repeats`` pairs are timed; while fewer than half of the model's or of the reference's blocks ran
    unswitched (a busy machine), more pairs are timed, up to ``EXTEND`` x ``repeats`` in all."""
    for _ in range(warmup):
        run()
    number = _runs_per_block(run, block_ms)
    need = max(3, (repeats + 1) // 2)
    t, r, tok, rok = [], [], [], []
    with _no_gc():
        i = 0
        while i < repeats or (i < EXTEND * repeats and min(sum(tok), sum(rok)) < need):
            if i % 2 == 0:
                a, b = _block(run, number), _block(ref.run, ref.number)
            else:
                b, a = _block(ref.run, ref.number), _block(run, number)
            t.append(a[0]), tok.append(a[1]), r.append(b[0]), rok.append(b[1])
            i += 1
    return np.array(t), np.array(r), np.array(tok), np.array(rok), number


def _time_rounds(run, ref: _Reference, warmup: int, repeats: int, block_ms: float):
    """:func:`_time_paired`, timed again (up to ``RETRIES`` times, 10 ms apart) while the reference runs more
    than ``SPELL`` slower than its fastest in this process: a slow spell of the whole machine does not slow
    every model by the same factor as the reference, so the ratio is taken outside such spells. Returns the
    round in which the reference ran fastest."""
    best = None
    rounds = 0
    for attempt in range(RETRIES + 1):
        rounds += 1
        if attempt:
            time.sleep(0.01)
        timed = _time_paired(run, ref, warmup if attempt == 0 else 0, repeats, block_ms)
        r_low = _low(timed[1], timed[3])
        if best is None or r_low < best[0]:
            best = (r_low, timed)
        if ref.best is None or r_low <= ref.best * (1 + SPELL):
            break
    ref.best = best[0] if ref.best is None else min(ref.best, best[0])
    return (*best[1], rounds)


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
    if reference_ms is not None and not _positive(reference_ms):
        raise CostModelError(f"latency: reference_ms ({reference_ms!r}) must be a positive number of milliseconds")
    scale = float(reference_ms) if reference_ms is not None else reference_latency(threads)
    if cache is not None:
        hit = cache.get(key, device)
        if hit is not None:
            return _rescaled(hit, scale)
    ref = _Reference.get(threads)
    ref.measure()  # once per process: how fast the reference runs here when the machine is not in a slow spell
    if runtime == "onnxruntime":
        run = _ort_runner(model if isinstance(model, nn.Module) else str(model), input_shape, threads)
        t, r, tok, rok, number, rounds = _time_rounds(run, ref, warmup, repeats, block_ms)
    else:
        was_training = model.training
        model.eval()
        xt = torch.from_numpy(np.random.default_rng(0).standard_normal(input_shape).astype(np.float32))
        try:
            with _torch_threads(threads), torch.inference_mode():
                t, r, tok, rok, number, rounds = _time_rounds(lambda: model(xt), ref, warmup, repeats, block_ms)
        finally:
            model.train(was_training)
    latency = _low(t, tok) / _low(r, rok) * scale
    both = tok & rok
    corrected = (t / r if np.count_nonzero(both) < 3 else t[both] / r[both]) * scale
    q1, med, q3 = np.percentile(corrected, [25, 50, 75])
    result = LatencyResult(latency, float(med), float(q3 - q1), float(0.7413 * (q3 - q1) / med), repeats,
                           threads, runtime, device, number, scale, pairs=len(t), kept=int(np.count_nonzero(tok)),
                           rounds=rounds)
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
