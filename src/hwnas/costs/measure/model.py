"""Measured latency as a cost: :func:`measure_latency` (cached, on the pinned scale) and the ``measure`` cost model.

One timer for everything that says "measured latency" (the ``measure`` cost
model, the search pipeline's ``latency_ms`` column, the ``lut`` cost model's
kernels and calibration networks, the benchmarks): :mod:`~hwnas.costs.measure.timer`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from torch import nn

from hwnas.core.errors import CostModelError
from hwnas.core.layers import Workload
from hwnas.costs.base import CostModel
from hwnas.costs.measure.cache import LatencyCache, is_positive_ms, model_key, reference_latency
from hwnas.costs.measure.fingerprint import device_fingerprint
from hwnas.costs.measure.timer import RUNTIMES, TIMER, LatencyResult, time_model


def _rescaled(result: LatencyResult, scale: float) -> LatencyResult:
    """A result measured against another reference latency, put on the scale ``scale``."""
    if not result.reference_ms or result.reference_ms == scale:
        return result
    f = scale / result.reference_ms
    return LatencyResult(**{**result.to_dict(), "latency_ms": result.latency_ms * f,
                            "median_ms": result.median_ms * f, "iqr_ms": result.iqr_ms * f,
                            "reference_ms": scale}, cached=result.cached)


def _bytes_key(model: bytes, input_shape: tuple, runtime: str, threads: int) -> str:
    """:func:`model_key` of an ONNX model held in memory (its content, like a file's)."""
    text = f"{hashlib.sha256(model).hexdigest()}|{tuple(input_shape)}|{runtime}|{threads}|{TIMER}"
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def measure_latency(model: nn.Module | str | Path | bytes, input_shape: tuple, runtime: str = "onnxruntime",
                    threads: int = 1, warmup: int = 10, repeats: int = 200, cache: LatencyCache | None = None,
                    block_ms: float = 0.25, key: str | None = None,
                    reference_ms: float | None = None) -> LatencyResult:
    """Per-inference latency (ms) of ``model`` on one input of ``input_shape`` (batch included).

    ``model`` is a module, an ``.onnx`` file or ONNX bytes (a quantized model); ``runtime`` is ``"onnxruntime"``
    (modules are exported to ONNX first) or ``"torch"`` (eager, modules only).
    ``repeats`` blocks of about ``block_ms`` each are timed, paired with blocks of
    the reference model (:mod:`~hwnas.costs.measure.timer`). With a ``cache``, a model already
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
    if not isinstance(model, (nn.Module, bytes)) and not Path(model).is_file():
        raise CostModelError(f"latency: model file {model} does not exist")
    if runtime == "torch" and not isinstance(model, nn.Module):
        raise CostModelError("latency: the 'torch' runtime measures nn.Module objects; use 'onnxruntime' for .onnx files")
    input_shape = tuple(int(v) for v in input_shape)
    device = device_fingerprint()
    key = key or (_bytes_key(model, input_shape, runtime, threads) if isinstance(model, bytes)
                  else model_key(model, input_shape, runtime, threads))
    if reference_ms is not None and not is_positive_ms(reference_ms):
        raise CostModelError(f"latency: reference_ms ({reference_ms!r}) must be a positive number of milliseconds")
    scale = float(reference_ms) if reference_ms is not None else reference_latency(threads)
    if cache is not None:
        hit = cache.get(key, device)
        if hit is not None:
            return _rescaled(hit, scale)
    model_or_path = model if isinstance(model, (nn.Module, bytes)) else str(model)
    result = time_model(model_or_path, input_shape, runtime, threads, warmup, repeats, block_ms, scale, device)
    if cache is not None:
        cache.put(key, result)
    return result


class MeasuredLatency(CostModel):
    """Latency measured on this CPU of the model a workload builds (``latency_ms`` and its IQR): a module, or the
    ONNX bytes of a quantized model (:class:`~hwnas.spaces.quantized.QuantizedSpace`), cached per model content."""

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
