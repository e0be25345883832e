"""Precisions a compression policy may choose, and which of them each deployment target executes natively.

A policy gives each quantizable block of a network one precision by name (``fp32``, ``int16``, ``int8``,
``w4a8``, ``int4``); :data:`PRECISION_WIDTHS` turns a name into the bit widths of the block's weights and
activations (``Layer.w_bits`` / ``Layer.a_bits``): ``intN`` is both at N bits, ``w4a8`` is 4-bit weights
with 8-bit activations (the usual mixed precision of accelerators: weight storage and traffic halve while
the activations, where 4 bits cost the most accuracy, keep 8). A target offers only the precisions it runs natively: a precision
it emulates is slower than fp32, so searching it would only mislead. :func:`check_precisions` refuses
one with the reason, measured on ONNX Runtime 1.3x on a 2-core AVX-512 VNNI CPU (1 thread, batch 1).
"""

from __future__ import annotations

from collections.abc import Sequence

from hwnas.core.errors import ConfigError

#: precision name -> (weight bits, activation bits) (32 is float32)
PRECISION_WIDTHS: dict[str, tuple[int, int]] = {"fp32": (32, 32), "int16": (16, 16), "int8": (8, 8),
                                                "w4a8": (4, 8), "int4": (4, 4)}

#: target -> the precisions it executes natively
TARGET_PRECISIONS: dict[str, tuple[str, ...]] = {
    "onnxruntime": ("int8", "fp32"),
    "accelerator": ("int4", "w4a8", "int8", "int16"),
}

#: (target, precision) -> why the target refuses it
REFUSED: dict[tuple[str, str], str] = {
    ("onnxruntime", "int4"): "onnxruntime CPU emulates int4 convolutions in fp32 (a DequantizeLinear before an "
                             "fp32 Conv; MatMulNBits covers MatMul and Gather only): 1.8-4.7x slower than fp32",
    ("onnxruntime", "w4a8"): "onnxruntime CPU emulates 4-bit-weight convolutions in fp32 (a DequantizeLinear "
                             "before an fp32 Conv; MatMulNBits covers MatMul and Gather only): 1.8-4.7x slower "
                             "than fp32",
    ("onnxruntime", "int16"): "onnxruntime CPU has no 16-bit integer convolution kernels: 16-bit QDQ runs in fp32 "
                              "behind DequantizeLinear, slower than fp32",
    ("accelerator", "fp32"): "the accelerator model's datapath is integer (4, 8 or 16 bits); fp32 is a CPU precision",
}


def check_precisions(precisions: Sequence[str], target: str, field: str = "compress.quantize.precisions") -> tuple[str, ...]:
    """``precisions`` as a tuple, or ConfigError naming ``field``, the offending value and why ``target`` refuses it."""
    if target not in TARGET_PRECISIONS:
        raise ConfigError(f"compress.quantize.target: {target!r} unknown; allowed {sorted(TARGET_PRECISIONS)}")
    allowed = TARGET_PRECISIONS[target]
    if not precisions:
        raise ConfigError(f"{field}: empty; choose from {list(allowed)} for target {target!r}")
    if len(set(precisions)) != len(precisions):
        raise ConfigError(f"{field}: {list(precisions)} repeats a precision")
    for p in precisions:
        if p not in PRECISION_WIDTHS:
            raise ConfigError(f"{field}: {p!r} is not a precision; known {list(PRECISION_WIDTHS)}, "
                              f"target {target!r} executes {list(allowed)}")
        if p not in allowed:
            reason = REFUSED.get((target, p), f"target {target!r} does not execute {p} natively")
            raise ConfigError(f"{field}: {p!r} refused for target {target!r}: {reason}; allowed {list(allowed)}")
    return tuple(precisions)


def widths_of(precision: str) -> tuple[int, int]:
    """(weight bits, activation bits) of a precision name."""
    try:
        return PRECISION_WIDTHS[precision]
    except KeyError:
        raise ConfigError(f"precision {precision!r} unknown; known {list(PRECISION_WIDTHS)}") from None


def policy_text(policy: dict[str, str]) -> str:
    """A policy as one compact text (``front.csv``'s ``bits`` column): ``block=precision`` joined by spaces."""
    return " ".join(f"{b}={p}" for b, p in policy.items())
