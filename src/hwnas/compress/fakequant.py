"""Fake quantization with learned scales (LSQ) and the quantized layers built from it.

:class:`LearnedQuantizer` rounds a tensor to a ``bits``-wide integer grid and back, with a
straight-through estimator for the rounding and a learned step size in the spirit of LSQ
(Esser et al., ICLR 2020): the scale's gradient is that of ``clamp(x / s) * s`` with the
rounding passed straight through, scaled by ``1 / sqrt(numel * qmax)`` so the step size
learns at the pace of the weights. Weights get one scale per output channel (symmetric,
signed); activations one per tensor, unsigned when the calibration batch is non-negative
(after a ReLU: twice the resolution, and ONNX Runtime then drops the ReLU into the
quantization) and signed otherwise. Zero points are 0.

:class:`QuantConv` / :class:`QuantLinear` wrap a float layer (batch norm already folded into
it) with a weight and an input quantizer. Under :func:`exporting`, 8-bit quantizers trace as
``torch.fake_quantize_*`` ops, which the ONNX exporter writes as QuantizeLinear /
DequantizeLinear pairs that ONNX Runtime fuses into QLinearConv / QGemm; other widths, which
ONNX Runtime has no integer kernel for, trace as the same float arithmetic (divide, round,
clip, multiply), so the ONNX model computes what the fake-quantized module computes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

from hwnas.core.errors import ConfigError

#: widths a quantizer may have (32 means not quantized and is never built)
QUANT_BITS = (4, 8, 16)

_EXPORTING = {"on": False}


@contextmanager
def exporting() -> Iterator[None]:
    """Within the block, 8-bit quantizers trace as ONNX QuantizeLinear / DequantizeLinear."""
    _EXPORTING["on"] = True
    try:
        yield
    finally:
        _EXPORTING["on"] = False


def _grad_scale(x: torch.Tensor, g: float) -> torch.Tensor:
    return (x - x * g).detach() + x * g


def _round_ste(x: torch.Tensor) -> torch.Tensor:
    return (x.round() - x).detach() + x


class LearnedQuantizer(nn.Module):
    """Quantize-dequantize to ``bits`` with a learned step size; ``channels`` > 0: one scale per channel (dim 0)."""

    def __init__(self, bits: int, channels: int = 0, signed: bool = True):
        super().__init__()
        if bits not in QUANT_BITS:
            raise ConfigError(f"quantizer: bit width {bits!r} not allowed; allowed {list(QUANT_BITS)}")
        self.bits, self.channels, self.signed = int(bits), int(channels), bool(signed)
        self.scale = nn.Parameter(torch.ones(max(1, self.channels)))
        #: off: pass-through (while the layers before it are being calibrated)
        self.enabled = True

    @property
    def qmin(self) -> int:
        return -(2 ** (self.bits - 1)) if self.signed else 0

    @property
    def qmax(self) -> int:
        return 2 ** (self.bits - 1) - 1 if self.signed else 2 ** self.bits - 1

    @torch.no_grad()
    def calibrate(self, x: torch.Tensor, signed: bool | None = None) -> None:
        """Scales from a tensor's range (max |x| / qmax, per channel or per tensor); ``signed`` None:
        unsigned when ``x`` is non-negative."""
        if signed is not None:
            self.signed = bool(signed)
        elif not self.channels:
            self.signed = bool((x < 0).any())
        if self.channels:
            peak = x.detach().abs().reshape(x.shape[0], -1).amax(1)
        else:
            peak = x.detach().abs().amax().reshape(1)
        self.scale.copy_(torch.clamp(peak / self.qmax, min=1e-8))

    def _shape(self, x: torch.Tensor) -> tuple[int, ...]:
        return (-1,) + (1,) * (x.dim() - 1) if self.channels else (1,)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.enabled:
            return x
        if _EXPORTING["on"]:
            return self._export(x)
        g = 1.0 / (x.numel() / max(1, self.channels) * self.qmax) ** 0.5
        s = _grad_scale(self.scale.abs().clamp(min=1e-8), g).reshape(self._shape(x))
        return _round_ste(torch.clamp(x / s, self.qmin, self.qmax)) * s

    def _export(self, x: torch.Tensor) -> torch.Tensor:
        s = self.scale.detach().abs().clamp(min=1e-8)
        if self.bits == 8 and self.channels:
            return torch.fake_quantize_per_channel_affine(x, s, torch.zeros(len(s), dtype=torch.int32), 0,
                                                          self.qmin, self.qmax)
        if self.bits == 8:
            return torch.fake_quantize_per_tensor_affine(x, float(s), 0, self.qmin, self.qmax)
        s = s.reshape(self._shape(x))
        return torch.clamp(torch.round(x / s), self.qmin, self.qmax) * s

    def extra_repr(self) -> str:
        return f"bits={self.bits}, {'per-channel' if self.channels else 'per-tensor'}, signed={self.signed}"


class QuantConv(nn.Module):
    """A conv (1-D or 2-D, BN folded in) with ``w_bits`` per-channel weights and ``a_bits`` per-tensor inputs."""

    def __init__(self, conv: nn.Conv1d | nn.Conv2d, w_bits: int, a_bits: int):
        super().__init__()
        self.conv = conv
        self.weight_q = LearnedQuantizer(w_bits, conv.out_channels, signed=True)
        self.input_q = LearnedQuantizer(a_bits)
        self.weight_q.calibrate(conv.weight, signed=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = self.conv
        fn = F.conv1d if isinstance(c, nn.Conv1d) else F.conv2d
        return fn(self.input_q(x), self.weight_q(c.weight), c.bias, c.stride, c.padding, c.dilation, c.groups)


class QuantLinear(nn.Module):
    """A linear layer with ``w_bits`` per-channel weights and ``a_bits`` per-tensor inputs."""

    def __init__(self, linear: nn.Linear, w_bits: int, a_bits: int):
        super().__init__()
        self.linear = linear
        self.weight_q = LearnedQuantizer(w_bits, linear.out_features, signed=True)
        self.input_q = LearnedQuantizer(a_bits)
        self.weight_q.calibrate(linear.weight, signed=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(self.input_q(x), self.weight_q(self.linear.weight), self.linear.bias)
