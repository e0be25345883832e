"""Latency lookup table: each distinct kernel measured once, summed per network, then calibrated.

A network's layer list is cut into *kernels* the way inference runtimes fuse them
(a conv/linear with the batch norm and activation that follow it; an add with
its activation), as nn-Meter does; each distinct kernel shape is turned into a
tiny ``torch`` module and its latency measured once on the local runtime
(:func:`hwnas.hardware.measure.measure_latency`, ONNX Runtime by default).

Summing kernel latencies over-counts what a whole network does not pay per
kernel (one session call instead of one per kernel, warm caches), so the sum is
calibrated on a few whole-network measurements with a least-squares fit
``latency = a * sum + b * n_kernels + c``. The table is saved as JSON.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from hwnas.errors import ConfigError, CostModelError, DataError
from hwnas.hardware.base import CostModel, Workload
from hwnas.hardware.layers import Layer
from hwnas.plaindata import read_json, write_json

FORMAT = "hwnas-lut/1"
_MAIN = ("conv", "dwconv", "linear")
_ACTS = ("relu", "hswish", "sigmoid")

#: measure(module, input_shape) -> median latency in ms
MeasureFn = Callable[[object, tuple], float]


# ----------------------------------------------------------------------------------------- kernels
def group_kernels(layers: Sequence[Layer]) -> list[tuple[Layer, ...]]:
    """Cut a layer list into runtime kernels: conv/linear [+ bn] [+ activation], add [+ activation], rest alone."""
    out: list[tuple[Layer, ...]] = []
    i, n = 0, len(layers)
    while i < n:
        head = layers[i]
        group = [head]
        i += 1
        if head.op in _MAIN:
            if i < n and layers[i].op == "bn" and layers[i].in_channels == head.out_channels:
                group.append(layers[i])
                i += 1
        if head.op in (*_MAIN, "add") and i < n and layers[i].op in _ACTS \
                and layers[i].in_channels == group[-1].out_channels:
            group.append(layers[i])
            i += 1
        out.append(tuple(group))
    return out


def kernel_key(kernel: Iterable[Layer]) -> str:
    """A stable string key of a kernel's shapes (layer names do not matter)."""
    return "|".join(",".join(str(v) for v in layer.shape_key()) for layer in kernel)


def input_shape_of(layer: Layer) -> tuple[int, ...]:
    """The tensor shape the layer's module is fed (1-D layers, ``in_h == 1``, take (B, C, W))."""
    if layer.op == "linear":
        pos = layer.in_h * layer.in_w
        return (layer.batch, layer.in_channels) if pos == 1 else (layer.batch, pos, layer.in_channels)
    if layer.in_h == 1:
        return (layer.batch, layer.in_channels, layer.in_w)
    return (layer.batch, layer.in_channels, layer.in_h, layer.in_w)


def layer_module(layer: Layer, dims: int):
    """A fresh torch module computing ``layer`` on a ``dims``-D tensor (same padding, as Layer assumes)."""
    one_d = dims == 3
    k, s = layer.kernel, layer.stride
    if layer.op in ("conv", "dwconv"):
        conv = nn.Conv1d if one_d else nn.Conv2d
        pad = "same" if s == 1 else k // 2
        return conv(layer.in_channels, layer.out_channels, k, s, pad, groups=layer.groups, bias=layer.bias)
    if layer.op == "linear":
        return nn.Linear(layer.in_channels, layer.out_channels, bias=layer.bias)
    if layer.op == "bn":
        return (nn.BatchNorm1d if one_d else nn.BatchNorm2d)(layer.in_channels).eval()
    if layer.op in _ACTS:
        return {"relu": nn.ReLU, "hswish": nn.Hardswish, "sigmoid": nn.Sigmoid}[layer.op]()
    if layer.op in ("avgpool", "maxpool"):
        if layer.op == "avgpool":
            pool = nn.AvgPool1d if one_d else nn.AvgPool2d
        else:
            pool = nn.MaxPool1d if one_d else nn.MaxPool2d
        return pool(k, s, ceil_mode=True)
    if layer.op == "gap":
        return nn.Sequential((nn.AdaptiveAvgPool1d if one_d else nn.AdaptiveAvgPool2d)(1), nn.Flatten())
    if layer.op in ("add", "mul"):
        return Binary(layer.op, input_shape_of(layer))
    raise CostModelError(f"cost model 'lut' cannot build a module for layer {layer.name or '?'} of op {layer.op!r}")


class Binary(nn.Module):
    """x (+|*) a second tensor of the same shape, held as a constant so the module has one input."""

    def __init__(self, op: str, shape: tuple[int, ...]):
        super().__init__()
        self.op = op
        self.register_buffer("other", torch.randn(shape))

    def forward(self, x):
        return x + self.other if self.op == "add" else x * self.other


def kernel_module(kernel: Sequence[Layer]):
    """(module, input shape) of a kernel: its layers chained."""

    shape = input_shape_of(kernel[0])
    mods = [layer_module(layer, len(shape)) for layer in kernel]
    return (mods[0] if len(mods) == 1 else nn.Sequential(*mods)).eval(), shape


def default_measure(runtime: str = "onnxruntime", threads: int = 1, **kw) -> MeasureFn:
    """A measure function backed by :func:`hwnas.hardware.measure.measure_latency`."""
    try:
        from hwnas.hardware.measure import measure_latency
    except ImportError as e:
        raise ConfigError(f"cost model 'lut' needs hwnas.hardware.measure to measure latency ({e})") from e

    def measure(module, input_shape) -> float:
        return float(measure_latency(module, tuple(input_shape), runtime=runtime, threads=threads, **kw).median_ms)

    return measure


class ReferenceTimer:
    """Drift-compensated ONNX Runtime timing for shared or throttling machines.

    On a machine whose speed drifts (other jobs, frequency scaling), two plain
    measurements of the same network can differ by 20%. Here each timed run of
    the target is paired with a run of a fixed reference model; the median of the
    per-pair ratios, times the reference's latency ``reference_ms`` (measured once
    and stored with the table, so a table and later checks share one scale),
    is the result. Drift common to both runs cancels in the ratio.
    """

    def __init__(self, threads: int = 1, warmup: int = 20, repeats: int = 200, reference_ms: float | None = None):
        from hwnas.compress.onnx_export import ort_session, to_onnx_bytes

        if threads < 1 or repeats < 3 or warmup < 0:
            raise ConfigError(f"lut timer: threads ({threads}) >= 1, repeats ({repeats}) >= 3, warmup ({warmup}) >= 0")
        self.threads, self.warmup, self.repeats = threads, warmup, repeats
        self._session, self._export = ort_session, to_onnx_bytes
        torch.manual_seed(0)
        ref = nn.Sequential(nn.Conv2d(16, 64, 1), nn.ReLU(), nn.Conv2d(64, 64, 3, padding=1, groups=64),
                            nn.ReLU(), nn.Conv2d(64, 16, 1)).eval()
        self._ref = self._prepare(ref, (1, 16, 8, 8))
        if reference_ms is None:
            run = self._ref
            for _ in range(warmup):
                run()
            ts = []
            for _ in range(max(repeats, 50)):
                t0 = time.perf_counter()
                run()
                ts.append(time.perf_counter() - t0)
            reference_ms = float(np.median(ts) * 1e3)
        self.reference_ms = float(reference_ms)

    def _prepare(self, module, shape):
        sess = self._session(self._export(module, tuple(shape), dynamic_batch=False), self.threads)
        feed = {sess.get_inputs()[0].name: np.random.default_rng(0).standard_normal(shape).astype(np.float32)}
        return lambda: sess.run(None, feed)

    def __call__(self, module, input_shape) -> float:
        run, ref = self._prepare(module, input_shape), self._ref
        for _ in range(self.warmup):
            run()
            ref()
        ratios = np.empty(self.repeats)
        for i in range(self.repeats):
            t0 = time.perf_counter()
            run()
            t1 = time.perf_counter()
            ref()
            ratios[i] = (t1 - t0) / (time.perf_counter() - t1)
        return float(np.median(ratios)) * self.reference_ms


# ----------------------------------------------------------------------------------------- the table
def _check_calibration(cal, where: str) -> dict:
    ok = (isinstance(cal, dict) and isinstance(cal.get("scale"), dict)
          and all(isinstance(v, (int, float)) and math.isfinite(v) for v in cal["scale"].values())
          and all(isinstance(cal.get(k), (int, float)) and math.isfinite(cal[k])
                  for k in ("default_scale", "per_kernel", "intercept")))
    if not ok:
        raise DataError(f"{where}: 'calibration' must be {{'scale': {{op: number}}, 'default_scale': number, "
                        "'per_kernel': number, 'intercept': number}")
    return {"scale": {k: float(v) for k, v in cal["scale"].items()}, "default_scale": float(cal["default_scale"]),
            "per_kernel": float(cal["per_kernel"]), "intercept": float(cal["intercept"])}


IDENTITY = {"scale": {}, "default_scale": 1.0, "per_kernel": 0.0, "intercept": 0.0}


class LatencyTable:
    """Kernel key -> measured ms, plus the calibration and how the table was made.

    The calibration maps a network's per-kernel sums to its latency:
    ``sum_op scale[op] * S_op + per_kernel * n_kernels + intercept``, where ``S_op``
    sums the kernels whose first layer is ``op``. Kernel kinds are scaled apart
    because isolated kernels misjudge them differently (a tiny 1x1 conv is mostly
    call overhead when measured alone; a depthwise conv is memory-bound either way).
    """

    def __init__(self, entries: dict[str, float] | None = None, calibration: dict | None = None,
                 meta: dict | None = None):
        self.entries: dict[str, float] = dict(entries or {})
        self.calibration = _check_calibration(calibration or IDENTITY, "calibration")
        self.meta = dict(meta or {})

    def raw(self, layers: Sequence[Layer], measure: MeasureFn | None = None,
            where: str = "") -> tuple[dict[str, float], dict[str, int]]:
        """(kernel latency sums, kernel counts) per kernel kind; unknown kernels measured if ``measure``."""
        sums: dict[str, float] = {}
        counts: dict[str, int] = {}
        kernels = group_kernels(layers)
        for kernel in kernels:
            key = kernel_key(kernel)
            ms = self.entries.get(key)
            if ms is None:
                if measure is None:
                    names = "+".join(layer.name or layer.op for layer in kernel)
                    raise CostModelError(
                        f"cost model 'lut'{where}: no entry for layer {names} ({key}); rebuild the table "
                        "with more coverage (hwnas lut build --coverage N) or allow measure_missing"
                    )
                module, shape = kernel_module(kernel)
                ms = self.entries[key] = float(measure(module, shape))
            op = kernel[0].op
            sums[op] = sums.get(op, 0.0) + ms
            counts[op] = counts.get(op, 0) + 1
        return sums, counts

    def apply(self, sums: dict[str, float], counts: dict[str, int]) -> float:
        cal = self.calibration
        return (sum(cal["scale"].get(op, cal["default_scale"]) * v for op, v in sums.items())
                + cal["per_kernel"] * sum(counts.values()) + cal["intercept"])

    def predict(self, layers: Sequence[Layer], measure: MeasureFn | None = None, where: str = "") -> float:
        return self.apply(*self.raw(layers, measure, where))

    def fit(self, raws: Sequence[tuple[dict[str, float], dict[str, int]]], measured: Sequence[float]) -> None:
        """Least-squares calibration on whole-network measurements.

        First one scale for all kernels (``a * sum + b * n + c``; scale only with fewer than
        4 networks); it stays the scale of kernel kinds the calibration networks lack. With at
        least (kinds + 5) networks, each kernel kind then gets its own scale (minimum-norm least
        squares, so kinds present in fixed number do not make the fit singular).
        """
        y = np.asarray(measured, float)
        if len(y) == 0:
            return
        ops = sorted({op for sums, _ in raws for op in sums})
        S = np.array([[sums.get(op, 0.0) for op in ops] for sums, _ in raws], float)
        C = np.array([[cnt.get(op, 0) for op in ops] for _, cnt in raws], float)
        n = C.sum(1)
        total = S.sum(1)
        cal = {"scale": {}, "default_scale": 1.0, "per_kernel": 0.0, "intercept": 0.0}
        if len(y) >= 4 and np.ptp(n) > 0:
            (a, b, c), *_ = np.linalg.lstsq(np.stack([total, n, np.ones_like(total)], 1), y, rcond=None)
            cal.update(default_scale=float(a), per_kernel=float(b), intercept=float(c))
        else:
            cal["default_scale"] = float((total @ y) / (total @ total))
        if len(y) >= len(ops) + 2 + 3:
            X = np.column_stack([S, n, np.ones_like(n)])
            coef, *_ = np.linalg.lstsq(X, y, rcond=None)
            cal["scale"] = {op: float(v) for op, v in zip(ops, coef[:-2])}
            cal["per_kernel"], cal["intercept"] = float(coef[-2]), float(coef[-1])
        self.calibration = _check_calibration(cal, "calibration")
        pred = np.array([self.apply(sums, cnt) for sums, cnt in raws])
        self.meta["calibration_samples"] = len(y)
        self.meta["calibration_mape"] = float(np.mean(np.abs(pred - y) / y))

    def save(self, path: str | Path) -> Path:
        return write_json(path, {"format": FORMAT, "calibration": self.calibration, "meta": self.meta,
                                 "entries": self.entries})

    @classmethod
    def load(cls, path: str | Path) -> LatencyTable:
        path = Path(path)
        d = read_json(path, "latency table", "build one with `hwnas lut build`")
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise DataError(f"{path}: not a hwnas latency table (expected format {FORMAT!r})")
        cal = _check_calibration(d.get("calibration"), str(path))
        entries = d.get("entries")
        if not isinstance(entries, dict) or not all(isinstance(v, (int, float)) and v >= 0 and math.isfinite(v)
                                                    for v in entries.values()):
            raise DataError(f"{path}: 'entries' must map kernel keys to finite latencies >= 0 (ms)")
        return cls(entries, cal, d.get("meta"))


def build_table(space, coverage: int = 100, samples: int = 30, seed: int = 0,
                measure: MeasureFn | None = None, log: Callable[[str], None] | None = None) -> LatencyTable:
    """Measure every kernel met in ``coverage`` sampled architectures (plus the largest and smallest),
    then calibrate on ``samples`` whole networks measured end to end."""
    measure = measure or default_measure()
    rng = np.random.default_rng(seed)
    archs = [space.sample(rng) for _ in range(coverage)]
    for extra in ("largest", "smallest"):
        if hasattr(space, extra):
            archs.append(getattr(space, extra)())
    kernels: dict[str, tuple[Layer, ...]] = {}
    for arch in archs:
        for k in group_kernels(space.workload(arch).layers):
            kernels.setdefault(kernel_key(k), k)
    table = LatencyTable(meta={"space": getattr(space, "name", "?"), "coverage_archs": len(archs),
                               "seed": seed, "created": time.strftime("%Y-%m-%dT%H:%M:%S")})
    t0 = time.perf_counter()
    for i, (key, kernel) in enumerate(kernels.items()):
        module, shape = kernel_module(kernel)
        table.entries[key] = float(measure(module, shape))
        if log and (i + 1) % 50 == 0:
            log(f"measured {i + 1}/{len(kernels)} kernels ({time.perf_counter() - t0:.0f} s)")
    raws, measured = [], []
    for arch in [space.sample(rng) for _ in range(samples)]:
        w = space.workload(arch)
        raws.append(table.raw(w.layers, measure))
        measured.append(float(measure(w.build(), w.input_shape)))
    table.fit(raws, measured)
    table.meta["kernels"] = len(table.entries)
    if log:
        log(f"{len(table.entries)} kernels; calibration {table.calibration} "
            f"(fit error {table.meta.get('calibration_mape')})")
    return table


class LookupTableModel(CostModel):
    """``latency_ms`` from a saved :class:`LatencyTable` (``path``), or a table object."""

    name = "lut"
    units = {"latency_ms": "ms"}

    def __init__(self, path: str | Path | None = None, table: LatencyTable | None = None,
                 measure_missing: bool = False):
        if (path is None) == (table is None):
            raise ConfigError("cost model 'lut': give exactly one of path= (a JSON table) or table=")
        self.path = str(path) if path is not None else None
        self.table = table if table is not None else LatencyTable.load(path)
        self._measure = None
        if measure_missing:  # fill gaps with the timer the table was built with, on the same scale
            meta = self.table.meta
            self._measure = (ReferenceTimer(threads=meta.get("threads", 1), reference_ms=meta.get("reference_ms"))
                             if meta.get("timer") == "reference" else default_measure(threads=meta.get("threads", 1)))

    def cost(self, workload: Workload) -> dict[str, float]:
        if not workload.layers:
            raise CostModelError(f"cost model 'lut': workload {workload.key!r} has no layers")
        where = f" ({self.path})" if self.path else ""
        return {"latency_ms": self.table.predict(workload.layers, self._measure, where)}

    def describe(self) -> dict:
        return {"cost_model": self.name, "path": self.path, "calibration": self.table.calibration,
                "kernels": len(self.table.entries)}
