"""Latency measured on this machine's CPU, through ONNX Runtime or PyTorch eager.

Each measurement warms up, then times ``repeats`` repeats; a repeat runs the
model ``number`` times (chosen so a repeat lasts at least ``min_repeat_ms``,
as ``timeit`` does, so tiny models are not drowned in timer noise). The result
is the median per-inference time with its spread (IQR, coefficient of
variation), thread count, runtime and the device fingerprint (CPU model,
cores, library versions). Results are cached in a JSON file per device
fingerprint and model structure, so the same model is never measured twice.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from hwnas.errors import CostModelError
from hwnas.hardware.base import CostModel, Workload

RUNTIMES = ("onnxruntime", "torch")


@dataclass
class LatencyResult:
    """One latency measurement: median and spread of per-inference milliseconds."""

    median_ms: float
    iqr_ms: float
    cv: float
    repeats: int
    threads: int
    runtime: str
    device: dict
    number: int = 1
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


class LatencyCache:
    """A JSON file of measurements: ``{device id: {"device": fp, "results": {model key: result}}}``.

    Writes are atomic (temporary file + rename) and merge with what other
    processes wrote meanwhile.
    """

    def __init__(self, path: str | Path | None = None):
        default = Path(os.environ.get("HWNAS_CACHE", Path.home() / ".cache" / "hwnas")) / "latency.json"
        self.path = Path(path) if path is not None else default
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
        if entry is None:
            return None
        return LatencyResult(**entry, cached=True)

    def put(self, key: str, result: LatencyResult) -> None:
        with self._lock:
            disk = self._read()
            for dev, entry in self._data.items():
                disk.setdefault(dev, {"device": entry["device"], "results": {}})["results"].update(entry["results"])
            dev = _fingerprint_id(result.device)
            disk.setdefault(dev, {"device": result.device, "results": {}})["results"][key] = result.to_dict()
            self._data = disk
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(disk, indent=1, sort_keys=True))
            os.replace(tmp, self.path)

    def __len__(self) -> int:
        return sum(len(e.get("results", {})) for e in self._data.values())


def model_key(model: nn.Module | str | Path, input_shape: tuple, runtime: str, threads: int) -> str:
    """A key for a model's structure (not its weight values), input shape, runtime and threads."""
    if isinstance(model, nn.Module):
        shapes = [(n, tuple(p.shape)) for n, p in model.state_dict().items()]
        text = repr(model) + repr(shapes)
    else:
        text = hashlib.sha256(Path(model).read_bytes()).hexdigest()
    text += f"|{tuple(input_shape)}|{runtime}|{threads}"
    return hashlib.sha256(text.encode()).hexdigest()[:24]


@contextlib.contextmanager
def _torch_threads(n: int):
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def _time(run, warmup: int, repeats: int, min_repeat_ms: float) -> tuple[np.ndarray, int]:
    for _ in range(warmup):
        run()
    number, t = 1, 0.0
    while True:  # autorange: enough calls per repeat to last min_repeat_ms
        t0 = time.perf_counter()
        for _ in range(number):
            run()
        t = (time.perf_counter() - t0) * 1e3
        if t >= min_repeat_ms or number >= 1 << 16:
            break
        number *= 2 if t <= 0 else max(2, min(10, int(min_repeat_ms / t) + 1))
    times = np.empty(repeats)
    for i in range(repeats):
        t0 = time.perf_counter()
        for _ in range(number):
            run()
        times[i] = (time.perf_counter() - t0) * 1e3 / number
    return times, number


def measure_latency(model: nn.Module | str | Path, input_shape: tuple, runtime: str = "onnxruntime",
                    threads: int = 1, warmup: int = 10, repeats: int = 20, cache: LatencyCache | None = None,
                    min_repeat_ms: float = 5.0, key: str | None = None) -> LatencyResult:
    """Median per-inference latency (ms) of ``model`` on one input of ``input_shape`` (batch included).

    ``model`` is a module or an ``.onnx`` file; ``runtime`` is ``"onnxruntime"``
    (modules are exported to ONNX first) or ``"torch"`` (eager, modules only).
    With a ``cache``, a model already measured on this device (same structure,
    input shape, runtime, threads) is returned without measuring.
    """
    if runtime not in RUNTIMES:
        raise CostModelError(f"latency runtime {runtime!r} unknown; allowed {list(RUNTIMES)}")
    if threads < 1 or repeats < 3 or warmup < 0:
        raise CostModelError(f"latency: threads ({threads}) >= 1, repeats ({repeats}) >= 3, warmup ({warmup}) >= 0")
    if not isinstance(model, nn.Module) and not Path(model).is_file():
        raise CostModelError(f"latency: model file {model} does not exist")
    if runtime == "torch" and not isinstance(model, nn.Module):
        raise CostModelError("latency: the 'torch' runtime measures nn.Module objects; use 'onnxruntime' for .onnx files")
    input_shape = tuple(int(v) for v in input_shape)
    device = device_fingerprint()
    key = key or model_key(model, input_shape, runtime, threads)
    if cache is not None:
        hit = cache.get(key, device)
        if hit is not None:
            return hit
    x = np.random.default_rng(0).standard_normal(input_shape).astype(np.float32)
    if runtime == "onnxruntime":
        from hwnas.compress.onnx_export import ort_session, to_onnx_bytes

        source = to_onnx_bytes(model, input_shape, dynamic_batch=False) if isinstance(model, nn.Module) else model
        sess = ort_session(source, threads)
        name = sess.get_inputs()[0].name
        feed = {name: x}
        times, number = _time(lambda: sess.run(None, feed), warmup, repeats, min_repeat_ms)
    else:
        was_training = model.training
        model.eval()
        xt = torch.from_numpy(x)
        try:
            with _torch_threads(threads), torch.inference_mode():
                times, number = _time(lambda: model(xt), warmup, repeats, min_repeat_ms)
        finally:
            model.train(was_training)
    q1, med, q3 = np.percentile(times, [25, 50, 75])
    result = LatencyResult(float(med), float(q3 - q1), float(times.std() / times.mean()), repeats, threads, runtime,
                           device, number)
    if cache is not None:
        cache.put(key, result)
    return result


class MeasuredLatency(CostModel):
    """Latency measured on this CPU of the module a workload builds (``latency_ms`` and its IQR)."""

    name = "measure"
    units = {"latency_ms": "ms", "latency_iqr_ms": "ms"}

    def __init__(self, runtime: str = "onnxruntime", threads: int = 1, warmup: int = 10, repeats: int = 20,
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
        return {"latency_ms": r.median_ms, "latency_iqr_ms": r.iqr_ms}

    def describe(self) -> dict:
        return {"cost_model": self.name, "runtime": self.runtime, "threads": self.threads,
                "device": device_fingerprint()}
