"""Layer lists traced from a real module: what cost models read is what the module runs.

A forward pass with hooks on leaf modules records every conv, depthwise conv,
linear, pooling, batch norm, activation and residual add with its true input
shape, so a space's ``workload(arch).layers`` cannot drift from its ``build()``.
A layer whose output shape disagrees with the same-padding convention of
:class:`~hwnas.core.layers.Layer` is refused rather than mis-described.

Transformer operations are modules too (:mod:`hwnas.spaces.elastic_attention`):
``nn.Linear``, ``nn.LayerNorm``, ``nn.Softmax``, ``nn.GELU``, ``nn.Tanh`` and
``nn.Embedding`` act on the last axis, so they are described channel-last
(``in_channels`` = last axis, ``in_w`` = every other position); the attention
products are :class:`~hwnas.spaces.elastic_attention.MatMul` modules, described
as ``matmul`` with one group per head. A module whose input is token ids says so
with an ``input_vocab`` attribute (the tracer then feeds int64 zeros). Any other
leaf module may describe itself with a ``describe_layers(name, *inputs)`` method
returning its Layers (the ViT's class token and positional embedding do).
"""

from __future__ import annotations

import torch
from torch import nn

from hwnas.core.errors import CostModelError
from hwnas.core.layers import Layer
from hwnas.spaces.elastic import Add
from hwnas.spaces.elastic_attention import MatMul

_SKIP = (nn.Identity, nn.Flatten, nn.Sequential, nn.ModuleList, nn.ModuleDict, nn.Dropout)
_ACT = {nn.ReLU: "relu", nn.Hardswish: "hswish", nn.Sigmoid: "sigmoid"}
_LAST_AXIS_ACT = {nn.GELU: "gelu", nn.Tanh: "tanh"}


def _positions(shape: torch.Size) -> int:
    """Positions of a channel-last tensor of one sample: every axis but the batch and the last."""
    n = 1
    for v in shape[1:-1]:
        n *= int(v)
    return n


def _channel_last(name: str, m: nn.Module, args: tuple, y: torch.Tensor) -> list[Layer] | None:
    """Layers of the modules that act on the last axis (transformer operations), or None for other modules."""
    x = args[0]
    if isinstance(m, nn.Linear):
        return [Layer("linear", m.in_features, m.out_features, in_w=_positions(x.shape), name=name,
                      bias=m.bias is not None)]
    if isinstance(m, nn.LayerNorm):
        if len(m.normalized_shape) != 1 or not m.elementwise_affine or m.bias is None:
            raise CostModelError(f"layer {name}: only a layer norm over the last axis with scale and shift "
                                 "has a Layer description")
        return [Layer("layernorm", m.normalized_shape[0], m.normalized_shape[0], in_w=_positions(x.shape), name=name)]
    if type(m) in _LAST_AXIS_ACT:
        c = int(x.shape[-1]) if x.dim() > 1 else 1
        return [Layer(_LAST_AXIS_ACT[type(m)], c, c, in_w=_positions(x.shape) if x.dim() > 1 else 1, name=name)]
    if isinstance(m, nn.Embedding):
        return [Layer("embedding", m.num_embeddings, m.embedding_dim, in_w=x[0].numel(), name=name)]
    if isinstance(m, nn.Softmax):
        if m.dim not in (-1, x.dim() - 1) or x.dim() < 3:
            raise CostModelError(f"layer {name}: softmax is described over the last axis of a "
                                 f"[batch, ..., rows, entries] tensor, got dim={m.dim} of {list(x.shape)}")
        groups = _positions(x.shape[:-1])
        return [Layer("softmax", groups * int(x.shape[-1]), groups * int(x.shape[-1]), in_w=int(x.shape[-2]),
                      groups=groups, name=name)]
    if isinstance(m, MatMul):
        a, b = args[0], args[1]
        if a.dim() < 3 or a.shape[:-2] != b.shape[:-2]:
            raise CostModelError(f"layer {name}: matmul operands {list(a.shape)} and {list(b.shape)} must be "
                                 "[batch, ..., M, K] and [batch, ..., K, N]")
        groups = _positions(a.shape[:-1])
        return [Layer("matmul", groups * int(a.shape[-1]), groups * int(b.shape[-1]), in_w=int(a.shape[-2]),
                      groups=groups, name=name)]
    describe = getattr(m, "describe_layers", None)
    if describe is not None:
        return list(describe(name, *args))
    return None


def _spatial(shape: torch.Size) -> tuple[int, int]:
    if len(shape) == 4:
        return int(shape[2]), int(shape[3])
    if len(shape) == 3:
        return 1, int(shape[2])
    return 1, 1


def _layer(name: str, m: nn.Module, x: torch.Tensor, y: torch.Tensor) -> Layer | None:
    """The Layer of a channel-first module (conv, pooling, batch norm, activation, add), or None."""
    h, w = _spatial(x.shape)
    c = int(x.shape[1])
    if isinstance(m, (nn.Conv1d, nn.Conv2d)):
        k, s = m.kernel_size[0], m.stride[0]
        op = "dwconv" if m.groups == c and m.groups > 1 and m.out_channels == c else "conv"
        layer = Layer(op, c, m.out_channels, h, w, k, s, m.groups, name=name, bias=m.bias is not None)
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
    if y.dim() >= 3:
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
        name = names.get(m, type(m).__name__)
        layers = _channel_last(name, m, args, out)
        if layers is None:
            layer = _layer(name, m, args[0], out)
            layers = [] if layer is None else [layer]
        records.extend(layers)

    for m in module.modules():
        if not list(m.children()) or isinstance(m, Add):
            hooks.append(m.register_forward_hook(hook))
    was_training = module.training
    module.eval()
    ids = getattr(module, "input_vocab", None) is not None
    try:
        with torch.no_grad():
            module(torch.zeros(input_shape, dtype=torch.int64 if ids else torch.float32))
    finally:
        for h in hooks:
            h.remove()
        module.train(was_training)
    return records
