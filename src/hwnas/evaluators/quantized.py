"""Accuracy of the deployed model: a sub-network with inherited weights, quantized by its policy, scored in ONNX Runtime.

:class:`PTQEvaluator` wraps the supernet evaluator of the base space. For an architecture of a
:class:`~hwnas.spaces.quantized.QuantizedSpace` it recalibrates BN and extracts the sub-network
(inherited weights), exports it to fp32 ONNX, quantizes the blocks its policy puts in int8 with ONNX
Runtime's static post-training quantization (:mod:`hwnas.compress.ptq`, calibrated on training samples)
and measures ``accuracy`` / ``soft_accuracy`` of that model in ONNX Runtime on the evaluation split. It
also reports the PyTorch fp32 accuracy of the same sub-network (``float_accuracy``) and the model file's
size (``onnx_kb``). A model ONNX Runtime cannot quantize or load, or one that loses more than
``max_accuracy_drop`` points against ``float_accuracy``, is a failed evaluation with the reason.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import torch

from hwnas.compress.policy import policy_text
from hwnas.compress.ptq import Calibration, calibration_inputs
from hwnas.core.errors import ConfigError, DataError, EvaluationFailed
from hwnas.evaluators.base import COST, QUALITY, Evaluator, MetricKind
from hwnas.evaluators.supernet import SupernetEvaluator
from hwnas.spaces.quantized import QuantizedSpace
from hwnas.supernet.calibrate import scores


class PTQEvaluator(Evaluator):
    """``arch -> {accuracy, soft_accuracy, float_accuracy, onnx_kb}`` of the post-training quantized sub-network."""

    metrics = ("accuracy", "soft_accuracy", "float_accuracy", "onnx_kb")

    def __init__(self, inner: SupernetEvaluator, space: QuantizedSpace, calibration: Calibration = Calibration(),
                 max_accuracy_drop: float = 2.0, keep: int = 64):
        if space.target != "onnxruntime":
            raise ConfigError(f"compress.quantize.target: post-training quantization runs in ONNX Runtime; a "
                              f"{space.target!r} policy ({list(space.precisions)}) has no ONNX Runtime model to score")
        if not max_accuracy_drop >= 0:
            raise ConfigError(f"compress.quantize.max_accuracy_drop: {max_accuracy_drop!r} must be >= 0 points")
        self.inner, self.space, self.calibration = inner, space, calibration
        self.max_accuracy_drop = float(max_accuracy_drop)
        self.calib = calibration_inputs(inner.data.x_train, space.input_shape, calibration.samples, "train")
        self._models: OrderedDict[str, bytes] = OrderedDict()
        self._keep = keep

    @property
    def split(self) -> str:
        return self.inner.split

    def metric_kinds(self) -> dict[str, MetricKind]:
        return {"accuracy": MetricKind(QUALITY), "soft_accuracy": MetricKind(QUALITY),
                "float_accuracy": MetricKind(QUALITY), "onnx_kb": MetricKind(COST, "kB")}

    def bind(self, space) -> None:
        if space.describe() != self.space.describe():
            raise ConfigError("the PTQ evaluator was built for another quantized space")
        self.inner.bind(self.space.base)

    def extract(self, arch) -> torch.nn.Module:
        """The fp32 stand-alone module of ``arch`` (inherited weights, recalibrated BN)."""
        return self.inner.extract(self.space.base_arch(arch))

    def deployable(self, arch, module: torch.nn.Module | None = None) -> bytes:
        """The ONNX model ``arch`` deploys: its inherited weights, quantized by its policy (fp32 blocks kept).

        Raises EvaluationFailed when ONNX Runtime's quantizer fails.
        """
        key = self.space.key(arch)
        if key in self._models:
            self._models.move_to_end(key)
            return self._models[key]
        module = module if module is not None else self.extract(arch)
        try:
            model = self.space.deployable(arch, module, self.calib, self.calibration)
        except DataError as e:
            raise EvaluationFailed(f"policy {policy_text(self.space.policy(arch))}: {e}") from None
        self._models[key] = model
        while len(self._models) > self._keep:
            self._models.popitem(last=False)
        return model

    def evaluate(self, arch) -> dict[str, float]:
        from hwnas.export.onnx import ort_predict, ort_session

        arch = self.space.canonical(arch)
        module = self.extract(arch)
        x, y = self.inner.x, self.inner.y
        ref = scores(module, x, y)
        model = self.deployable(arch, module)
        policy = policy_text(self.space.policy(arch))
        try:
            out = ort_predict(ort_session(model), x)
        except DataError as e:
            raise EvaluationFailed(f"policy {policy}: {e}") from None
        acc, soft = ort_scores(out, y)
        drop = ref["accuracy"] - acc
        if drop > self.max_accuracy_drop:
            raise EvaluationFailed(f"policy {policy}: the quantized model loses {drop:.2f} accuracy points on the "
                                   f"{self.split!r} split (PyTorch fp32 {ref['accuracy']:.2f} -> ONNX Runtime "
                                   f"{acc:.2f}) > compress.quantize.max_accuracy_drop {self.max_accuracy_drop:g}")
        return {"accuracy": acc, "soft_accuracy": soft, "float_accuracy": ref["accuracy"],
                "onnx_kb": len(model) / 1024.0}

    def describe(self) -> dict:
        return {"type": "ptq", "inner": self.inner.describe(), "calibration": vars(self.calibration),
                "max_accuracy_drop": self.max_accuracy_drop, "quantizer": "onnxruntime.quantization QDQ S8S8 "
                "per-channel"}


def ort_scores(logits: np.ndarray, y) -> tuple[float, float]:
    """Top-1 accuracy and mean true-class probability (percent) of ``logits`` against labels ``y``."""
    y = y.numpy() if torch.is_tensor(y) else np.asarray(y)
    if len(y) == 0:
        return 0.0, 0.0
    z = logits.astype(np.float64)
    z = np.exp(z - z.max(-1, keepdims=True))
    p = z / z.sum(-1, keepdims=True)
    return 100.0 * float((logits.argmax(-1) == y).mean()), 100.0 * float(p[np.arange(len(y)), y].mean())
