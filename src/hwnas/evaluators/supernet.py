"""Accuracy inherited from a trained supernet: recalibrate BN for the sub-network, then score it.

This is the quality evaluator of the train-once pipeline: each architecture
costs a few no-grad forward passes (BN recalibration on a fixed calibration
subset of the training split, then the evaluation split), no training.
"""

from __future__ import annotations

import torch

from hwnas.core.errors import HwnasError
from hwnas.data.base import TaskData
from hwnas.evaluators.base import QUALITY, Evaluator, MetricKind
from hwnas.spaces.base import ChoiceSpace
from hwnas.spaces.trainable import Supernet
from hwnas.supernet.calibrate import extract_subnet, recalibrate_bn, scores


class SupernetEvaluator(Evaluator):
    """``arch -> {"accuracy", "soft_accuracy"}`` (percent) on ``split`` using the supernet's inherited weights.

    ``soft_accuracy`` (mean probability of the true class, see :func:`hwnas.supernet.calibrate.scores`) is
    the other quality objective a search can use (``"soft_accuracy:max"``); which ranks better is task-dependent.
    """

    metrics = ("accuracy", "soft_accuracy")

    def __init__(self, net: Supernet, data: TaskData, split: str = "val", calib_samples: int = 512, seed: int = 0,
                 identity: str | None = None):
        self.net, self.data, self.split = net.eval(), data, split
        self.x, self.y = data.split(split)
        order = torch.randperm(len(data.x_train), generator=torch.Generator().manual_seed(seed))
        self.calib_x = data.x_train[order[:calib_samples]]
        self.identity = identity

    def metric_kinds(self) -> dict[str, MetricKind]:
        return {m: MetricKind(QUALITY) for m in self.metrics}

    def bind(self, space: ChoiceSpace) -> None:
        if space.describe() != self.net.space_description:
            raise HwnasError(f"the supernet was built for space {self.net.space_description.get('name')!r} "
                             f"{self.net.space_description.get('options', {})}, not {space.describe().get('name')!r}")

    def recalibrated(self, arch) -> dict:
        arch = self.net.space.canonical(arch)
        recalibrate_bn(self.net, arch, self.calib_x)
        return arch

    def evaluate(self, arch) -> dict[str, float]:
        arch = self.recalibrated(arch)
        return scores(self.net, self.x, self.y, arch)

    def extract(self, arch) -> torch.nn.Module:
        """The stand-alone module of ``arch`` with inherited weights and recalibrated BN."""
        return extract_subnet(self.net, arch, self.calib_x)

    def describe(self) -> dict:
        return {"type": "supernet", "space": self.net.space_description.get("name"), "split": self.split,
                "calib_samples": len(self.calib_x), "data": self.data.describe(), "supernet": self.identity}
