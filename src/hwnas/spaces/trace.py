"""Layer lists traced from a real module: what cost models read is what the module runs.

A forward pass with hooks on leaf modules records every conv, depthwise conv,
linear, pooling, batch norm, activation and residual add with its true input
shape, so a space's ``workload(arch).layers`` cannot drift from its ``build()``.
A layer whose output shape disagrees with the same-padding convention of
:class:`~hwnas.core.layers.Layer` is refused rather than mis-described.
"""

from __future__ import annotations

import torch
from torch import nn

from hwnas.core.errors import CostModelError
from hwnas.core.layers import Layer
from hwnas.spaces.elastic import Add

_SKIP = (nn.Identity, nn.Flatten, nn.Sequential, nn.ModuleList, nn.ModuleDict, nn.Dropout)
_ACT = {nn.ReLU: "relu", nn.Hardswish: "hswish", nn.Sigmoid: "sigmoid"}


def _spatial(shape: torch.Size) -> tuple[int, int]:
    if len(shape) == 4:
        return int(shape[2]), int(shape[3])
    if len(shape) == 3:
        return 1, int(shape[2])
    return 1, 1


def _layer(name: str, m: nn.Module, x: torch.Tensor, y: torch.Tensor) -> Layer | None:
    h, w = _spatial(x.shape)
    c = int(x.shape[1])
    if isinstance(m, (nn.Conv1d, nn.Conv2d)):
        k, s = m.kernel_size[0], m.stride[0]
        op = "dwconv" if m.groups == c and m.groups > 1 and m.out_channels == c else "conv"
        layer = Layer(op, c, m.out_channels, h, w, k, s, m.groups, name=name, bias=m.bias is not None)
    elif isinstance(m, nn.Linear):
        layer = Layer("linear", m.in_features, m.out_features, name=name, bias=m.bias is not None)
    elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
        layer = Layer("bn", c, c, h, w, name=name)
    elif type(m) in _ACT:
        layer = Layer(_ACT[type(m)], c, c, h, w, name=name)
    elif isinstance(m, (nn.AvgPool1d, nn.AvgPool2d, nn.MaxPool1d, nn.MaxPool2d)):
        k = m.kernel_size if isinstance(m.kernel_size, int) else m.kernel_size[0]
        s = m.stride if isinstance(m.stride, int) else m.stride[0]
        op = "avgpool" if isinstance(m, (nn.AvgPool1d, nn.AvgPool2d)) else "maxpool"
        layer = Layer(op, c, c, h, w, k, s, name=name)
    elif isinstance(m, (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d)):
        return Layer("gap", c, c, h, w, name=name)
    elif isinstance(m, Add):
        layer = Layer("add", c, c, h, w, name=name)
    elif isinstance(m, _SKIP) or len(list(m.children())) > 0:
        return None
    else:
        raise CostModelError(f"layer {name}: module type {type(m).__name__} has no Layer description")
    if layer.op != "linear" and y.dim() >= 3:
        oh, ow = _spatial(y.shape)
        if (oh, ow) != (layer.out_h, layer.out_w):
            raise CostModelError(f"layer {name}: output {oh}x{ow} differs from same-padding "
                                 f"{layer.out_h}x{layer.out_w}; this module cannot be described faithfully")
    return layer


def trace_layers(module: nn.Module, input_shape: tuple[int, ...]) -> list[Layer]:
    """The Layer list of ``module`` for one input of ``input_shape`` (batch dimension included, use 1)."""
    records: list[Layer] = []
    names = {m: n for n, m in module.named_modules()}
    hooks = []

    def hook(m, args, out):
        x = args[0]
        layer = _layer(names.get(m, type(m).__name__), m, x, out)
        if layer is not None:
            records.append(layer)

    for m in module.modules():
        if not list(m.children()) or isinstance(m, Add):
            hooks.append(m.register_forward_hook(hook))
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            module(torch.zeros(input_shape))
    finally:
        for h in hooks:
            h.remove()
        module.train(was_training)
    return records
