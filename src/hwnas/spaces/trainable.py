"""What a trainable search space adds to a ChoiceSpace: a supernet, stand-alone models and layer lists.

A trainable space knows its input shape and class count, builds the
weight-sharing :class:`Supernet` of all its architectures, names its largest
and smallest member (the sandwich rule), and describes any architecture as a
:class:`~hwnas.costs.base.Workload` whose layer list is traced from the very
module ``build()`` returns.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
import torch
from torch import nn

from hwnas.core.layers import Layer, Workload
from hwnas.spaces.base import Arch, ChoiceSpace
from hwnas.spaces.trace import trace_layers


class Supernet(nn.Module, ABC):
    """A weight-sharing network: ``forward(x, arch)`` runs the sub-network ``arch``."""

    def __init__(self, space: TrainableSpace):
        super().__init__()
        self.space_description = space.describe()
        self._space = space

    @property
    def space(self) -> TrainableSpace:
        return self._space

    @abstractmethod
    def forward(self, x: torch.Tensor, arch: dict) -> torch.Tensor:
        """Logits of sub-network ``arch`` (a validated, canonical dict)."""

    @abstractmethod
    def extract(self, arch: dict) -> nn.Module:
        """A plain ``torch.nn`` module of ``arch`` holding copies of the inherited weights and BN statistics."""


class TrainableSpace(ChoiceSpace):
    """Mixin-style base of the spaces that can be trained as a supernet."""

    input_shape: tuple[int, ...] = ()
    num_classes: int = 10

    def options(self) -> dict:
        """Constructor options that identify this space instance (stored in checkpoints and studies)."""
        return {}

    def describe(self) -> dict:
        return {**super().describe(), "options": self.options()}

    @abstractmethod
    def build_supernet(self) -> Supernet:
        """A freshly initialised supernet of this space."""

    def largest(self) -> dict:
        return self.from_genes(self.cardinalities - 1)

    def smallest(self) -> dict:
        return self.from_genes(np.zeros(len(self.dimensions), dtype=np.int64))

    # ------------------------------------------------------------------ stand-alone models and costs
    def build(self, arch: Arch) -> nn.Module:
        """A stand-alone, randomly initialised ``nn.Module`` of ``arch`` (eval mode)."""
        arch = self.canonical(arch)
        if getattr(self, "_template", None) is None:
            self._template = self.build_supernet()
        module = self._template.extract(arch)
        for m in module.modules():
            if m is not module and hasattr(m, "reset_parameters"):
                m.reset_parameters()
        return module.eval()

    def layers(self, arch: Arch) -> list[Layer]:
        """The layer list of ``arch`` for one sample (batch 1), traced from :meth:`build`."""
        key = self.key(arch)
        cache = self.__dict__.setdefault("_layer_cache", {})
        if key not in cache:
            if len(cache) > 4096:
                cache.clear()
            cache[key] = trace_layers(self.build(arch), (1, *self.input_shape))
        return list(cache[key])

    def workload(self, arch: Arch) -> Workload:
        arch = self.canonical(arch)
        return Workload(key=self.key(arch), layers=self.layers(arch), input_shape=(1, *self.input_shape),
                        build=lambda: self.build(arch))

    def __getstate__(self):  # keep spaces cheap to send to worker processes
        state = dict(self.__dict__)
        state.pop("_template", None)
        state.pop("_layer_cache", None)
        return state
