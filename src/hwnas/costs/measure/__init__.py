"""Latency measured on this machine's CPU, through ONNX Runtime or PyTorch eager.

One timer for everything that says "measured latency" (the ``measure`` cost
model, the search pipeline's ``latency_ms`` column, the ``lut`` cost model's
kernels and calibration networks, the benchmarks), in four parts:
:mod:`~hwnas.costs.measure.fingerprint` (what identifies the measuring device),
:mod:`~hwnas.costs.measure.timer` (how a model is timed against a reference
model), :mod:`~hwnas.costs.measure.cache` (measurements and the pinned
reference latency in a JSON file) and :mod:`~hwnas.costs.measure.model`
(:func:`measure_latency` and the ``measure`` cost model, :class:`MeasuredLatency`).
"""

from hwnas.costs.measure.cache import LatencyCache, default_cache_path, model_key, reference_latency
from hwnas.costs.measure.fingerprint import device_fingerprint
from hwnas.costs.measure.model import MeasuredLatency, measure_latency
from hwnas.costs.measure.timer import RUNTIMES, TIMER, LatencyResult

__all__ = ["RUNTIMES", "TIMER", "LatencyCache", "LatencyResult", "MeasuredLatency", "default_cache_path",
           "device_fingerprint", "measure_latency", "model_key", "reference_latency"]
