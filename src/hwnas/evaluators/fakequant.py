"""Accuracy of an architecture + policy for the accelerator target, by fake quantization in PyTorch.

A 4- or 16-bit policy has no ONNX Runtime CPU kernel to score it with, so its accuracy is the
fake-quantized PyTorch accuracy (:mod:`hwnas.compress.qat`): the sub-network with inherited weights
(BN recalibrated), batch norm folded, each conv / linear layer quantized at its block's width
(per-channel weight scales, per-tensor activation scales calibrated on training samples), optionally
fine-tuned for ``epochs`` epochs; scored on the evaluation split.
"""

from __future__ import annotations

import torch

from hwnas.compress.finetune import finetune
from hwnas.compress.qat import calibration_batch, policy_from_layers, quantize_module
from hwnas.core.errors import ConfigError
from hwnas.evaluators.base import QUALITY, Evaluator, MetricKind
from hwnas.evaluators.supernet import SupernetEvaluator
from hwnas.spaces.quantized import QuantizedSpace
from hwnas.supernet.calibrate import scores


class FakeQuantEvaluator(Evaluator):
    """``arch -> {accuracy, soft_accuracy, float_accuracy}`` of the fake-quantized sub-network of a quantized space."""

    metrics = ("accuracy", "soft_accuracy", "float_accuracy")

    def __init__(self, inner: SupernetEvaluator, space: QuantizedSpace, calib_samples: int = 256, epochs: int = 0,
                 lr: float = 1e-3, seed: int = 0):
        if epochs < 0 or lr <= 0 or calib_samples < 1:
            raise ConfigError("fake-quantized evaluation: epochs >= 0, lr > 0, calib_samples >= 1")
        self.inner, self.space = inner, space
        self.epochs, self.lr, self.seed = int(epochs), float(lr), int(seed)
        self.calib = calibration_batch(inner.data, calib_samples, seed)

    @property
    def split(self) -> str:
        return self.inner.split

    def metric_kinds(self) -> dict[str, MetricKind]:
        return {m: MetricKind(QUALITY) for m in self.metrics}

    def bind(self, space) -> None:
        if space.describe() != self.space.describe():
            raise ConfigError("the fake-quantized evaluator was built for another quantized space")
        self.inner.bind(self.space.base)

    def extract(self, arch) -> torch.nn.Module:
        """The fake-quantized module of ``arch`` (inherited weights, its policy, fine-tuned if asked)."""
        arch = self.space.canonical(arch)
        module = self.inner.extract(self.space.base_arch(arch))
        return self._quantize(arch, module)

    def _quantize(self, arch, module: torch.nn.Module) -> torch.nn.Module:
        q = quantize_module(module, policy_from_layers(self.space.layers(arch)), self.calib)
        return finetune(q, self.inner.data, epochs=self.epochs, lr=self.lr, seed=self.seed)

    def evaluate(self, arch) -> dict[str, float]:
        arch = self.space.canonical(arch)
        module = self.inner.extract(self.space.base_arch(arch))
        ref = scores(module, self.inner.x, self.inner.y)
        out = scores(self._quantize(arch, module), self.inner.x, self.inner.y)
        return {**out, "float_accuracy": ref["accuracy"]}

    def describe(self) -> dict:
        return {"type": "fakequant", "inner": self.inner.describe(), "calib_samples": len(self.calib),
                "epochs": self.epochs, "lr": self.lr, "seed": self.seed,
                "quantizer": "hwnas.compress.qat LSQ fake quantization, BN folded"}
