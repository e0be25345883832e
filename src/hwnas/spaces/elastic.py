"""Elastic layers: one set of full-size weights, any smaller layer computed from a slice of it.

Weight slicing as in Once-for-All / BigNAS: output and input channels take the
first ``c`` channels, a smaller kernel takes the centre of the largest kernel,
depth is handled by the networks (blocks beyond the chosen depth are skipped).
The active size is given at call time (``out_channels``, ``kernel``; input
channels are read off the input), so one module serves every sub-network
without hidden state, and :meth:`export` turns the active slice into a plain
``torch.nn`` layer holding a copy of exactly the weights the forward used.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def _center(weight: torch.Tensor, kernel: int, dims: int) -> torch.Tensor:
    kmax = weight.shape[-1]
    if kernel == kmax:
        return weight
    start = (kmax - kernel) // 2
    if dims == 1:
        return weight[..., start:start + kernel]
    return weight[..., start:start + kernel, start:start + kernel]


class ElasticConv(nn.Module):
    """Convolution (1-D or 2-D, same padding) with elastic input/output channels and kernel size.

    ``depthwise=True`` makes a depthwise convolution (groups = channels) whose
    channel count follows the input.
    """

    def __init__(self, dims: int, max_in: int, max_out: int, max_kernel: int, depthwise: bool = False,
                 bias: bool = False):
        super().__init__()
        if dims not in (1, 2):
            raise ValueError(f"dims must be 1 or 2, got {dims}")
        if max_kernel % 2 == 0:
            raise ValueError(f"kernel sizes must be odd for same padding, got {max_kernel}")
        self.dims, self.depthwise, self.max_kernel = dims, depthwise, max_kernel
        self.max_in, self.max_out = max_in, (max_in if depthwise else max_out)
        shape = (self.max_out, 1 if depthwise else max_in) + (max_kernel,) * dims
        self.weight = nn.Parameter(torch.empty(shape))
        self.bias = nn.Parameter(torch.zeros(self.max_out)) if bias else None
        nn.init.kaiming_normal_(self.weight, mode="fan_out", nonlinearity="relu")

    def active_weight(self, in_channels: int, out_channels: int, kernel: int) -> torch.Tensor:
        if self.depthwise:
            w = self.weight[:in_channels]
        else:
            w = self.weight[:out_channels, :in_channels]
        return _center(w, kernel, self.dims)

    def forward(self, x: torch.Tensor, out_channels: int | None = None, kernel: int | None = None,
                stride: int = 1) -> torch.Tensor:
        c_in = x.shape[1]
        kernel = kernel or self.max_kernel
        out = c_in if self.depthwise else (out_channels or self.max_out)
        w = self.active_weight(c_in, out, kernel)
        b = None if self.bias is None else self.bias[:out]
        conv = F.conv1d if self.dims == 1 else F.conv2d
        return conv(x, w, b, stride, kernel // 2, 1, c_in if self.depthwise else 1)

    def export(self, in_channels: int, out_channels: int | None = None, kernel: int | None = None,
               stride: int = 1) -> nn.Module:
        kernel = kernel or self.max_kernel
        out = in_channels if self.depthwise else (out_channels or self.max_out)
        cls = nn.Conv1d if self.dims == 1 else nn.Conv2d
        m = cls(in_channels, out, kernel, stride, kernel // 2, groups=in_channels if self.depthwise else 1,
                bias=self.bias is not None)
        with torch.no_grad():
            m.weight.copy_(self.active_weight(in_channels, out, kernel))
            if self.bias is not None:
                m.bias.copy_(self.bias[:out])
        return m


class ElasticBatchNorm(nn.Module):
    """Batch norm over the first ``C`` channels of its full-size parameters and statistics.

    ``recalibrating`` mode (set by :func:`hwnas.supernet.calibrate.recalibrate_bn`)
    normalises with batch statistics and accumulates their running mean exactly
    (momentum ``1/k`` at the k-th batch), so the statistics belong to the active
    sub-network only.
    """

    def __init__(self, dims: int, max_features: int, eps: float = 1e-5, momentum: float = 0.1):
        super().__init__()
        self.dims, self.max_features, self.eps, self.momentum = dims, max_features, eps, momentum
        self.weight = nn.Parameter(torch.ones(max_features))
        self.bias = nn.Parameter(torch.zeros(max_features))
        self.register_buffer("running_mean", torch.zeros(max_features))
        self.register_buffer("running_var", torch.ones(max_features))
        self.recalibrating = False
        self._seen = 0

    def start_recalibration(self) -> None:
        self.recalibrating, self._seen = True, 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = x.shape[1]
        if self.recalibrating:
            self._seen += 1
            momentum = 1.0 / self._seen
            if self._seen == 1:
                self.running_mean[:c].zero_()
                self.running_var[:c].fill_(1.0)
        else:
            momentum = self.momentum
        return F.batch_norm(x, self.running_mean[:c], self.running_var[:c], self.weight[:c], self.bias[:c],
                            self.training or self.recalibrating, momentum, self.eps)

    def export(self, channels: int) -> nn.Module:
        m = (nn.BatchNorm1d if self.dims == 1 else nn.BatchNorm2d)(channels, eps=self.eps, momentum=self.momentum)
        with torch.no_grad():
            m.weight.copy_(self.weight[:channels])
            m.bias.copy_(self.bias[:channels])
            m.running_mean.copy_(self.running_mean[:channels])
            m.running_var.copy_(self.running_var[:channels])
        return m


class ElasticLinear(nn.Module):
    """Fully connected layer with elastic input (read off the input) and output features."""

    def __init__(self, max_in: int, max_out: int, bias: bool = True):
        super().__init__()
        self.max_in, self.max_out = max_in, max_out
        self.weight = nn.Parameter(torch.empty(max_out, max_in))
        self.bias = nn.Parameter(torch.empty(max_out)) if bias else None
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(max_in)
            nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: torch.Tensor, out_features: int | None = None) -> torch.Tensor:
        out = out_features or self.max_out
        b = None if self.bias is None else self.bias[:out]
        return F.linear(x, self.weight[:out, :x.shape[-1]], b)

    def export(self, in_features: int, out_features: int | None = None) -> nn.Module:
        out = out_features or self.max_out
        m = nn.Linear(in_features, out, bias=self.bias is not None)
        with torch.no_grad():
            m.weight.copy_(self.weight[:out, :in_features])
            if self.bias is not None:
                m.bias.copy_(self.bias[:out])
        return m


class Add(nn.Module):
    """Element-wise sum as a module, so residual joins are visible to layer tracing and export."""

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return a + b


def activation(name: str) -> nn.Module:
    if name == "relu":
        return nn.ReLU()
    if name == "hswish":
        return nn.Hardswish()
    raise ValueError(f"activation {name!r} unknown; use 'relu' or 'hswish'")
