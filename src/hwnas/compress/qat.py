"""Quantization-aware fine-tuning of an extracted sub-network, and its export as QDQ ONNX.

A *policy* gives each quantizable layer (conv, depthwise conv, linear; named as in
``module.named_modules()``, which is also its name in the space's layer list) its weight
and activation widths, ``{name: (w_bits, a_bits)}`` with widths in 4, 8, 16 (32: left in
float32); :func:`policy_from_layers` reads it off a layer list whose layers carry
``w_bits`` / ``a_bits``, so a space that puts its policy genes into its layer list needs
nothing else. The steps:

1. :func:`fold_batchnorm`: every batch norm that follows a conv is folded into it
   (``torch.nn.utils.fusion.fuse_conv_bn_eval``), as every integer runtime does, so
   the quantized weights are the ones deployed;
2. :func:`quantize_module`: the policy's layers become :class:`~hwnas.compress.fakequant.QuantConv`
   / ``QuantLinear`` with learned scales, initialised from the weights' and a calibration
   batch's ranges (one pass, activations in float);
3. :func:`finetune`: a few epochs of training of weights and scales together (straight-through
   rounding, LSQ step sizes) on the training split;
4. :func:`export_qdq`: the ONNX model, QuantizeLinear / DequantizeLinear around the int8 layers
   with the learned scales, checked against the fake-quantized module in ONNX Runtime. ONNX Runtime
   fuses an int8 conv into QLinearConv where its output reaches the next quantized input directly or
   through a ReLU (unsigned activations); after a hard-swish or into a residual add it runs the conv
   in float on the dequantized int8 weights (same outputs, no int8 speed-up: on mobilenet 5 of 19
   convs fuse).

:class:`~hwnas.evaluators.fakequant.FakeQuantEvaluator` scores an architecture and policy of a
trained supernet this way (inherited weights, optionally after a short fine-tune): the accuracy of
a policy with 4- or 16-bit layers, which ONNX Runtime on CPU cannot execute natively, for the
accelerator target.
``torch.ao.quantization`` (deprecated) is not used.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from hwnas.compress.base import Compressed, CompressionStep
from hwnas.compress.fakequant import QUANT_BITS, LearnedQuantizer, QuantConv, QuantLinear, exporting
from hwnas.compress.finetune import finetune
from hwnas.core.errors import ConfigError, DataError, HwnasError
from hwnas.core.layers import GEMM_OPS, Layer
from hwnas.data.base import TaskData

#: a layer's (weight bits, activation bits)
Policy = dict[str, tuple[int, int]]
_QUANTIZABLE = (nn.Conv1d, nn.Conv2d, nn.Linear)


def policy_from_layers(layers: Sequence[Layer]) -> Policy:
    """The quantized conv / linear layers of a layer list with their widths (float32 layers left out)."""
    return {layer.name: (layer.w_bits, layer.a_bits) for layer in layers
            if layer.op in GEMM_OPS and (layer.w_bits, layer.a_bits) != (32, 32)}


def uniform_policy(module: nn.Module, bits: int) -> Policy:
    """Every conv and linear layer of ``module`` at ``bits`` weights and activations."""
    return {name: (bits, bits) for name, m in module.named_modules() if isinstance(m, _QUANTIZABLE)}


def check_policy(module: nn.Module, policy: Mapping[str, Sequence[int] | int]) -> Policy:
    """``policy`` with widths as pairs; a layer the module lacks or a width outside 4/8/16/32 is refused by name."""
    layers = {name for name, m in module.named_modules() if isinstance(m, _QUANTIZABLE)}
    out: Policy = {}
    allowed = [*QUANT_BITS, 32]
    for name, bits in policy.items():
        if name not in layers:
            raise ConfigError(f"quantization policy: layer {name!r} is not a conv or linear layer of this "
                              f"network; its layers are {sorted(layers)}")
        pair = (bits, bits) if isinstance(bits, int) else tuple(bits)
        if len(pair) != 2 or any(b not in allowed for b in pair):
            raise ConfigError(f"quantization policy: layer {name!r} bits {bits!r} not allowed; give a width or "
                              f"(weight, activation) widths from {allowed}")
        if pair != (32, 32):
            if 32 in pair:
                raise ConfigError(f"quantization policy: layer {name!r} bits {bits!r}: quantize both weights "
                                  "and activations or neither (32 for both)")
            out[name] = (int(pair[0]), int(pair[1]))
    return out


def fold_batchnorm(module: nn.Module) -> nn.Module:
    """A copy of ``module`` (eval mode) with each conv -> batch norm pair of a ``Sequential`` folded into the conv."""
    module = copy.deepcopy(module).eval()
    for seq in [m for m in module.modules() if isinstance(m, nn.Sequential)]:
        children = list(seq.named_children())
        for (name, m), (bn_name, bn) in zip(children, children[1:]):
            if isinstance(m, (nn.Conv1d, nn.Conv2d)) and isinstance(bn, (nn.BatchNorm1d, nn.BatchNorm2d)):
                setattr(seq, name, fuse_conv_bn_eval(m, bn))
                setattr(seq, bn_name, nn.Identity())
    return module


def _set(module: nn.Module, name: str, new: nn.Module) -> None:
    parent, _, leaf = name.rpartition(".")
    setattr(module.get_submodule(parent) if parent else module, leaf, new)


def quantize_module(module: nn.Module, policy: Mapping[str, Sequence[int] | int], calib_x: torch.Tensor) -> nn.Module:
    """A fake-quantized copy of ``module``: BN folded, the policy's layers quantized, scales calibrated on
    ``calib_x`` (a batch of training inputs)."""
    policy = check_policy(module, policy)
    if calib_x is None or len(calib_x) == 0:
        raise DataError("quantization: the calibration set is empty; give at least one training sample")
    q = fold_batchnorm(module)
    for name, (w, a) in policy.items():
        m = q.get_submodule(name)
        _set(q, name, QuantLinear(m, w, a) if isinstance(m, nn.Linear) else QuantConv(m, w, a))
    try:
        with torch.no_grad():
            _calibrate_inputs(q, calib_x)
    except RuntimeError as e:
        raise DataError(f"quantization: the calibration inputs of shape {tuple(calib_x.shape)} do not fit the "
                        f"network ({e})") from None
    return q.eval()


def _calibrate_inputs(q: nn.Module, x: torch.Tensor) -> None:
    """Input scales from one pass over the calibration batch with activations left in float (weights
    quantized), as ONNX Runtime's static quantization calibrates: each quantizer sees its layer's inputs."""
    seen: dict[LearnedQuantizer, torch.Tensor] = {}
    quantizers = [m.input_q for m in q.modules() if isinstance(m, (QuantConv, QuantLinear))]
    hooks = [qz.register_forward_pre_hook(lambda mod, args: seen.setdefault(mod, args[0].detach()))
             for qz in quantizers]
    try:
        for qz in quantizers:
            qz.enabled = False
        q(x)
        for qz, inputs in seen.items():
            qz.calibrate(inputs)
    finally:
        for h in hooks:
            h.remove()
        for qz in quantizers:
            qz.enabled = True


def quantized_layers(qmodel: nn.Module) -> Policy:
    """The policy a fake-quantized module runs."""
    return {name: (m.weight_q.bits, m.input_q.bits) for name, m in qmodel.named_modules()
            if isinstance(m, (QuantConv, QuantLinear))}


def export_qdq(qmodel: nn.Module, input_shape: tuple[int, ...], path: str | Path, check_samples: int = 16,
               atol: float | None = None) -> Path:
    """Write ``qmodel`` as ONNX (QDQ around int8 layers, float arithmetic for other widths) and check it in
    ONNX Runtime against the fake-quantized module on random inputs: outputs may differ by rounding ties
    and int32 accumulation order, so ``atol`` defaults to a few output quantization steps."""
    from hwnas.export.onnx import ort_predict, ort_session, to_onnx_bytes

    path = Path(path)
    qmodel = qmodel.eval()
    with exporting():
        model = to_onnx_bytes(qmodel, tuple(input_shape))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(model)
    x = torch.randn((check_samples, *input_shape[1:]), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ref = qmodel(x).numpy()
    got = ort_predict(ort_session(model), x)
    tol = atol if atol is not None else 0.05 * float(np.abs(ref).max() + 1e-6)
    err = float(np.abs(got - ref).max())
    if not err <= tol:
        raise HwnasError(f"{path}: ONNX Runtime output differs from the fake-quantized module by {err:.3g} "
                         f"(tolerance {tol:.3g})")
    return path


@torch.no_grad()
def top1(module: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 1024) -> float:
    """Top-1 accuracy (percent) of a plain module in eval mode."""
    module.eval()
    correct = sum(int((module(xb).argmax(-1) == yb).sum()) for xb, yb in zip(x.split(batch_size), y.split(batch_size)))
    return 100.0 * correct / max(1, len(y))


def calibration_batch(data: TaskData, n: int, seed: int) -> torch.Tensor:
    """``n`` training inputs drawn with ``seed`` (the batch quantizer scales are calibrated on)."""
    if len(data.x_train) == 0 or n < 1:
        raise DataError(f"quantization: the calibration set (split 'train', {n} samples asked, "
                        f"{len(data.x_train)} available) is empty")
    order = torch.randperm(len(data.x_train), generator=torch.Generator().manual_seed(seed))
    return data.x_train[order[:n]]


class QuantizationAwareTraining(CompressionStep):
    """``qat``: fake-quantize a module with a policy (``bits``: one width for every conv / linear layer, or
    ``{layer: width or [w_bits, a_bits]}``), fine-tune it ``epochs`` epochs; ``info`` holds the policy and
    the fake-quantized accuracy on ``split``."""

    name = "qat"

    def __init__(self, bits: int | Mapping[str, Sequence[int] | int] = 8, epochs: int = 2, lr: float = 1e-3,
                 batch_size: int = 128, calib_samples: int = 256, split: str = "val", seed: int = 0):
        if isinstance(bits, int) and bits not in QUANT_BITS:
            raise ConfigError(f"compress qat: bits={bits!r} not allowed; allowed {list(QUANT_BITS)} "
                              "or a mapping of layer -> bits")
        if epochs < 0 or lr <= 0 or batch_size < 1 or calib_samples < 1:
            raise ConfigError("compress qat: epochs >= 0, lr > 0, batch_size >= 1, calib_samples >= 1")
        self.bits, self.epochs, self.lr, self.batch_size = bits, int(epochs), float(lr), int(batch_size)
        self.calib_samples, self.split, self.seed = int(calib_samples), split, int(seed)

    def apply(self, module: nn.Module, data: TaskData) -> Compressed:
        policy = uniform_policy(module, self.bits) if isinstance(self.bits, int) else dict(self.bits)
        q = quantize_module(module, policy, calibration_batch(data, self.calib_samples, self.seed))
        q = finetune(q, data, self.epochs, self.lr, self.batch_size, self.seed)
        bits = {k: list(v) for k, v in quantized_layers(q).items()}
        return Compressed(q, {"bits": bits, "accuracy_fakequant": top1(q, *data.split(self.split))})

    def describe(self) -> dict:
        return {"step": self.name, "bits": self.bits, "epochs": self.epochs, "lr": self.lr,
                "batch_size": self.batch_size, "calib_samples": self.calib_samples, "split": self.split,
                "seed": self.seed}
