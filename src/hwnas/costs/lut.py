"""Latency lookup table: each distinct kernel measured once, summed per network, then calibrated.

A network's layer list is cut into *kernels* the way inference runtimes fuse them
(a conv/linear with the batch norm and activation that follow it; an add with
its activation), as nn-Meter does; each distinct kernel shape is turned into a
tiny ``torch`` module and its latency measured once on the local runtime
(:func:`hwnas.costs.measure.model.measure_latency`, ONNX Runtime by default).

Summing kernel latencies over-counts what a whole network does not pay per
kernel (one runtime call instead of one per kernel, kernels fused across their
boundaries), so each kernel's latency less the runtime's per-call overhead is
summed per kernel kind and calibrated on a few whole-network measurements (the
same timer) with a non-negative least-squares fit (:class:`LatencyTable`). The
table is saved as JSON with the timer's scale (``meta.reference_ms``), so later
measurements against it use the same one.

Precision is part of a kernel's key (:meth:`~hwnas.core.layers.Layer.shape_key`). A kernel
whose layers all run at 8-bit weights and activations is measured as what ONNX Runtime
deploys: the kernel's ONNX model quantized statically (QDQ, signed int8, per-channel
weights), which the CPU provider fuses into QLinearConv / QGemm. Other widths (int4 weights,
16-bit activations, mixed) have no native CPU kernel and are refused by name: ONNX Runtime
would run them in float32 behind DequantizeLinear, so a table entry would only mislead.
"""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from torch import nn

from hwnas.core.errors import ConfigError, CostModelError, DataError
from hwnas.core.layers import Layer, Workload
from hwnas.core.plaindata import read_json, write_json
from hwnas.costs.base import CostModel

FORMAT = "hwnas-lut/2"
_MAIN = ("conv", "dwconv", "linear")
_ACTS = ("relu", "hswish", "sigmoid", "gelu", "tanh")

#: measure(module, input_shape) -> latency in ms
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
    pos = layer.in_h * layer.in_w
    if layer.op in ("linear", "layernorm", "gelu", "tanh"):  # channel-last
        return (layer.batch, layer.in_channels) if pos == 1 else (layer.batch, pos, layer.in_channels)
    if layer.op == "embedding":  # one index per position
        return (layer.batch, pos)
    if layer.op in ("matmul", "softmax"):  # [batch, groups, rows, entries]
        return (layer.batch, layer.groups, pos, layer.in_channels // layer.groups)
    if layer.in_h == 1:
        return (layer.batch, layer.in_channels, layer.in_w)
    return (layer.batch, layer.in_channels, layer.in_h, layer.in_w)


def layer_module(layer: Layer, dims: int):
    """A fresh torch module computing ``layer`` on a ``dims``-D tensor (same padding, as Layer assumes)."""
    one_d = dims == 3
    k, s = layer.kernel, layer.stride
    if layer.op in ("conv", "dwconv"):
        conv = nn.Conv1d if one_d else nn.Conv2d
        pad = "same" if s == 1 else (0 if k == s else k // 2)  # k == s: non-overlapping patches
        return conv(layer.in_channels, layer.out_channels, k, s, pad, groups=layer.groups, bias=layer.bias)
    if layer.op == "linear":
        return nn.Linear(layer.in_channels, layer.out_channels, bias=layer.bias)
    if layer.op == "bn":
        return (nn.BatchNorm1d if one_d else nn.BatchNorm2d)(layer.in_channels).eval()
    if layer.op in _ACTS:
        return {"relu": nn.ReLU, "hswish": nn.Hardswish, "sigmoid": nn.Sigmoid, "gelu": nn.GELU,
                "tanh": nn.Tanh}[layer.op]()
    if layer.op == "layernorm":
        return nn.LayerNorm(layer.in_channels)
    if layer.op == "softmax":
        return nn.Softmax(-1)
    if layer.op == "matmul":
        return MatMulConst((layer.groups, layer.in_channels // layer.groups, layer.out_channels // layer.groups))
    if layer.op == "embedding":
        table = nn.Embedding(layer.in_channels, layer.out_channels)
        table.input_vocab = layer.in_channels  # exported and timed with int64 ids (hwnas.export.onnx)
        return table
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


class MatMulConst(nn.Module):
    """x @ a constant second operand of ``groups`` K x N matrices (an attention product's kernel, one input)."""

    def __init__(self, shape: tuple[int, int, int]):
        super().__init__()
        self.register_buffer("other", torch.randn(shape))

    def forward(self, x):
        return torch.matmul(x, self.other)


def kernel_module(kernel: Sequence[Layer]):
    """(module, input shape) of a kernel: its layers chained."""

    shape = input_shape_of(kernel[0])
    mods = [layer_module(layer, len(shape)) for layer in kernel]
    return (mods[0] if len(mods) == 1 else nn.Sequential(*mods)).eval(), shape


def kernel_precision(kernel: Sequence[Layer]) -> int:
    """32 for a float32 kernel, 8 for an int8 one; any other precision is refused naming the layer."""
    widths = {(layer.w_bits, layer.a_bits) for layer in kernel}
    if widths == {(32, 32)}:
        return 32
    if widths == {(8, 8)}:
        return 8
    names = "+".join(layer.name or layer.op for layer in kernel)
    got = ", ".join(f"w{w}/a{a}" for w, a in sorted(widths))
    raise CostModelError(
        f"cost model 'lut': kernel {names} runs at {got}; the table measures float32 kernels and int8 "
        "kernels (w8/a8 throughout) only: onnxruntime on CPU has no native kernel for int4 weights, 16-bit "
        "activations or mixed widths (it emulates them in float32, slower than float32)"
    )


def _int8_onnx(module, shape: tuple[int, ...], path: Path) -> Path:
    """``module`` exported to ONNX and quantized statically to int8 QDQ (S8S8, per-channel weights)."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    from hwnas.export.onnx import to_onnx_bytes

    fp32 = path.with_suffix(".fp32.onnx")
    fp32.write_bytes(to_onnx_bytes(module, shape, dynamic_batch=False))
    gen = np.random.default_rng(0)

    class Reader(CalibrationDataReader):  # random inputs: a kernel's latency does not depend on its values
        def __init__(self):
            self.batches = iter([{"input": gen.standard_normal(shape).astype(np.float32)} for _ in range(4)])

        def get_next(self):
            return next(self.batches, None)

    quantize_static(str(fp32), str(path), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QInt8, weight_type=QuantType.QInt8)
    return path


@contextmanager
def kernel_model(kernel: Sequence[Layer]) -> Iterator[tuple[object, tuple[int, ...]]]:
    """(model, input shape) to measure for a kernel: its float32 module, or the path of its int8 ONNX model
    (valid inside the ``with`` block)."""
    bits = kernel_precision(kernel)
    module, shape = kernel_module(kernel)
    if bits == 32:
        yield module, shape
        return
    with tempfile.TemporaryDirectory(prefix="hwnas-lut-") as tmp:
        yield str(_int8_onnx(module, shape, Path(tmp) / "kernel.onnx")), shape


def default_measure(runtime: str = "onnxruntime", threads: int = 1, reference_ms: float | None = None,
                    **kw) -> MeasureFn:
    """A measure function backed by :func:`hwnas.costs.measure.model.measure_latency` (the one timer of hwnas).

    ``reference_ms`` fixes its scale (a table's own); by default the scale pinned for this
    device. The function's ``reference_ms`` attribute is the scale it measures on.
    """
    try:
        from hwnas.costs.measure.cache import reference_latency
        from hwnas.costs.measure.model import measure_latency
    except ImportError as e:
        raise ConfigError(f"cost model 'lut' needs hwnas.costs.measure to measure latency ({e})") from e
    scale = float(reference_ms) if reference_ms is not None else reference_latency(threads)

    def measure(module, input_shape) -> float:
        return float(measure_latency(module, tuple(input_shape), runtime=runtime, threads=threads,
                                     reference_ms=scale, **kw).latency_ms)

    measure.reference_ms = scale
    return measure


# ----------------------------------------------------------------------------------------- the table
#: channel alignments tried when a table is built (0: kernels are not split by alignment)
ALIGNS = (0, 4, 8, 16)


def kernel_kind(kernel: Sequence[Layer], align: int = 0) -> str:
    """The kernel's first op; with ``align`` > 0, ``op+a{align}`` when every layer's channels are multiples of it.

    Runtimes lay channels out in SIMD-width blocks (ONNX Runtime's NCHWc) and fuse aligned
    kernels with their neighbours more often, so aligned and unaligned kernels of one op
    relate differently to their isolated latency.
    """
    op = kernel[0].op
    if align and all(x.in_channels % align == 0 and x.out_channels % align == 0 for x in kernel):
        return f"{op}+a{align}"
    return op


def _check_calibration(cal, where: str) -> dict:
    numbers = ("default_scale", "per_kernel", "intercept", "overhead_ms")

    def ok_number(v):
        return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v >= 0

    ok = (isinstance(cal, dict) and isinstance(cal.get("scale"), dict) and all(map(ok_number, cal["scale"].values()))
          and all(ok_number(cal.get(k)) for k in numbers)
          and isinstance(cal.get("align"), int) and not isinstance(cal.get("align"), bool) and cal["align"] >= 0)
    if not ok:
        raise DataError(f"{where}: 'calibration' must be {{'scale': {{kind: number}}, 'default_scale': number, "
                        "'per_kernel': number, 'intercept': number, 'overhead_ms': number, 'align': int}, "
                        "every number finite and >= 0")
    return {"scale": {k: float(v) for k, v in cal["scale"].items()}, **{k: float(cal[k]) for k in numbers},
            "align": int(cal["align"])}


IDENTITY = {"scale": {}, "default_scale": 1.0, "per_kernel": 0.0, "intercept": 0.0, "overhead_ms": 0.0, "align": 0}

#: the kernels of one network with their table latencies (ms)
Items = list[tuple[tuple[Layer, ...], float]]


def _nonneg_fit(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Coefficients >= 0 minimising the squared *relative* error of ``X @ coef`` to ``y``."""
    from scipy.optimize import lsq_linear

    coef = lsq_linear(X / y[:, None], np.ones(len(y)), bounds=(0.0, np.inf)).x
    return np.where(coef < 1e-9, 0.0, coef)  # round-off at the bound is zero


class LatencyTable:
    """Kernel key -> measured ms, plus the calibration and how the table was made.

    A kernel measured alone costs one runtime call (``overhead_ms``, the latency of a
    near-empty model) plus its own work ``u = max(ms - overhead_ms, 0)``; a network pays
    the call once. The calibration maps a network's kernels to its latency:
    ``sum_kind scale[kind] * U_kind + per_kernel * n_kernels + intercept``, where ``U_kind``
    sums ``u`` over the kernels of a kind (:func:`kernel_kind`: the first op, split by
    channel alignment when ``align`` > 0), and every coefficient is >= 0, so a bigger
    kernel never makes a network faster. Kinds are scaled apart because isolated kernels
    misjudge them differently (a tiny 1x1 conv is mostly call overhead when measured alone
    and fuses with its neighbours in a network; a depthwise conv is memory-bound either way).
    """

    def __init__(self, entries: dict[str, float] | None = None, calibration: dict | None = None,
                 meta: dict | None = None):
        self.entries: dict[str, float] = dict(entries or {})
        self.calibration = _check_calibration(calibration or IDENTITY, "calibration")
        self.meta = dict(meta or {})

    def items(self, layers: Sequence[Layer], measure: MeasureFn | None = None, where: str = "") -> Items:
        """The network's kernels with their table latencies; unknown kernels measured if ``measure``."""
        out = []
        for kernel in group_kernels(layers):
            kernel_precision(kernel)
            key = kernel_key(kernel)
            ms = self.entries.get(key)
            if ms is None:
                if measure is None:
                    names = "+".join(layer.name or layer.op for layer in kernel)
                    raise CostModelError(
                        f"cost model 'lut'{where}: no entry for layer {names} ({key}); rebuild the table "
                        "with more coverage (hwnas lut build --coverage N) or allow measure_missing"
                    )
                with kernel_model(kernel) as (model, shape):
                    ms = self.entries[key] = float(measure(model, shape))
            out.append((kernel, ms))
        return out

    def raw(self, layers: Sequence[Layer], measure: MeasureFn | None = None,
            where: str = "") -> tuple[dict[str, float], dict[str, int]]:
        """(work sums ``U_kind``, kernel counts) per kernel kind under the current calibration."""
        cal = self.calibration
        return _features(self.items(layers, measure, where), cal["align"], cal["overhead_ms"])

    def apply(self, sums: dict[str, float], counts: dict[str, int]) -> float:
        cal = self.calibration
        return (sum(cal["scale"].get(kind, cal["default_scale"]) * v for kind, v in sums.items())
                + cal["per_kernel"] * sum(counts.values()) + cal["intercept"])

    def predict(self, layers: Sequence[Layer], measure: MeasureFn | None = None, where: str = "") -> float:
        return self.apply(*self.raw(layers, measure, where))

    def fit(self, nets: Sequence[Items], measured: Sequence[float], overhead_ms: float | None = None,
            align: int | None = None) -> None:
        """Non-negative least-squares calibration (relative error) on whole-network measurements.

        ``overhead_ms``: the runtime's per-call cost (default: the table's current one).
        ``align``: the channel alignment splitting kernel kinds; None picks the one of
        :data:`ALIGNS` with the lowest leave-one-out error on these networks (recorded in
        ``meta["align_loo_mape"]``). With at least (kinds + 5) networks each kind gets its own
        scale; otherwise one scale for all (``scale * U + per_kernel * n + intercept``; with
        fewer than 4 networks, scale only). The common scale also serves kinds the
        calibration networks lack.
        """
        y = np.asarray(measured, float)
        if len(y) == 0:
            return
        overhead = self.calibration["overhead_ms"] if overhead_ms is None else float(overhead_ms)
        if align is None:
            loo = {a: _loo_mape(nets, y, a, overhead) for a in ALIGNS}
            self.meta["align_loo_mape"] = {str(a): v for a, v in loo.items()}
            align = min(loo, key=lambda a: (loo[a], a))
        self.calibration = _calibrate(nets, y, align, overhead)
        pred = np.array([self.apply(*_features(items, align, overhead)) for items in nets])
        self.meta["calibration_samples"] = len(y)
        self.meta["calibration_mape"] = float(np.mean(np.abs(pred - y) / y))

    def save(self, path: str | Path) -> Path:
        return write_json(path, {"format": FORMAT, "calibration": self.calibration, "meta": self.meta,
                                 "entries": self.entries})

    @classmethod
    def load(cls, path: str | Path) -> LatencyTable:
        path = Path(path)
        d = read_json(path, "latency table", "build one with `hwnas lut build`")
        if isinstance(d, dict) and isinstance(d.get("format"), str) and d["format"].startswith("hwnas-lut/") \
                and d["format"] != FORMAT:
            raise DataError(f"{path}: a latency table of format {d['format']!r}, made by an older hwnas with "
                            f"another timer and calibration; rebuild it with `hwnas lut build`")
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise DataError(f"{path}: not a hwnas latency table (expected format {FORMAT!r})")
        cal = _check_calibration(d.get("calibration"), str(path))
        entries = d.get("entries")
        if not isinstance(entries, dict) or not all(isinstance(v, (int, float)) and v >= 0 and math.isfinite(v)
                                                    for v in entries.values()):
            raise DataError(f"{path}: 'entries' must map kernel keys to finite latencies >= 0 (ms)")
        return cls(entries, cal, d.get("meta"))


def _features(items: Items, align: int, overhead: float) -> tuple[dict[str, float], dict[str, int]]:
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}
    for kernel, ms in items:
        kind = kernel_kind(kernel, align)
        sums[kind] = sums.get(kind, 0.0) + max(ms - overhead, 0.0)
        counts[kind] = counts.get(kind, 0) + 1
    return sums, counts


def _calibrate(nets: Sequence[Items], y: np.ndarray, align: int, overhead: float) -> dict:
    feats = [_features(items, align, overhead) for items in nets]
    kinds = sorted({k for sums, _ in feats for k in sums})
    U = np.array([[sums.get(k, 0.0) for k in kinds] for sums, _ in feats], float)
    n = np.array([sum(cnt.values()) for _, cnt in feats], float)
    one = np.ones_like(n)
    cal = {"scale": {}, "default_scale": 1.0, "per_kernel": 0.0, "intercept": 0.0, "overhead_ms": overhead,
           "align": align}
    total = U.sum(1)
    if len(y) >= 4:
        a, b, c = _nonneg_fit(np.column_stack([total, n, one]), y)
        cal.update(default_scale=float(a), per_kernel=float(b), intercept=float(c))
    elif total.any():
        cal["default_scale"] = float(_nonneg_fit(total[:, None], y)[0])
    if len(y) >= len(kinds) + 2 + 3:
        coef = _nonneg_fit(np.column_stack([U, n, one]), y)
        cal["scale"] = {k: float(v) for k, v in zip(kinds, coef[:-2])}
        cal["per_kernel"], cal["intercept"] = float(coef[-2]), float(coef[-1])
    return _check_calibration(cal, "calibration")


def _loo_mape(nets: Sequence[Items], y: np.ndarray, align: int, overhead: float) -> float:
    """Mean relative error of each network predicted by a calibration fitted on the others."""
    if len(y) < 3:
        return 0.0
    errs = []
    for i in range(len(y)):
        rest = [j for j in range(len(y)) if j != i]
        t = LatencyTable(calibration=_calibrate([nets[j] for j in rest], y[rest], align, overhead))
        errs.append(abs(t.apply(*_features(nets[i], align, overhead)) - y[i]) / y[i])
    return float(np.mean(errs))


def build_table(space, coverage: int = 100, samples: int = 30, seed: int = 0,
                measure: MeasureFn | None = None, log: Callable[[str], None] | None = None,
                align: int | None = None, progress: Callable[[int, int, str], None] | None = None) -> LatencyTable:
    """Measure every kernel met in ``coverage`` sampled architectures (plus the largest and smallest)
    and the runtime's per-call overhead (a one-element ``Flatten``), then calibrate on ``samples``
    whole networks measured end to end (``align``: see :meth:`LatencyTable.fit`).

    ``progress(done, total, phase)`` is called after each measurement (phase ``"kernels"``, then
    ``"calibration networks"``)."""
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
        with kernel_model(kernel) as (model, shape):
            table.entries[key] = float(measure(model, shape))
        if progress is not None:
            progress(i + 1, len(kernels), "kernels")
        if log and (i + 1) % 50 == 0:
            log(f"measured {i + 1}/{len(kernels)} kernels ({time.perf_counter() - t0:.0f} s)")
    overhead = float(measure(nn.Flatten(), (1, 1)))
    nets, measured = [], []
    for i, arch in enumerate([space.sample(rng) for _ in range(samples)]):
        w = space.workload(arch)
        nets.append(table.items(w.layers, measure))
        measured.append(float(measure(w.build(), w.input_shape)))
        if progress is not None:
            progress(i + 1, samples, "calibration networks")
    table.fit(nets, measured, overhead_ms=overhead, align=align)
    table.meta["kernels"] = len(table.entries)
    if hasattr(measure, "reference_ms"):
        from hwnas.costs.measure.fingerprint import device_fingerprint
        from hwnas.costs.measure.timer import TIMER

        table.meta.update(timer=TIMER, reference_ms=measure.reference_ms, device=device_fingerprint())
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
            self._measure = default_measure(runtime=meta.get("runtime", "onnxruntime"), threads=meta.get("threads", 1),
                                            reference_ms=meta.get("reference_ms"))

    def cost(self, workload: Workload) -> dict[str, float]:
        if not workload.layers:
            raise CostModelError(f"cost model 'lut': workload {workload.key!r} has no layers")
        where = f" ({self.path})" if self.path else ""
        return {"latency_ms": self.table.predict(workload.layers, self._measure, where)}

    def describe(self) -> dict:
        return {"cost_model": self.name, "path": self.path, "calibration": self.table.calibration,
                "kernels": len(self.table.entries)}
