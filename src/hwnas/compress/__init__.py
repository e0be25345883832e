"""Compression steps: what turns a chosen sub-network into a smaller or faster deployable model.

A step (quantization, pruning, ...) is a :class:`~hwnas.compress.base.CompressionStep` found by name in
:data:`COMPRESSORS`; an installed package adds its own under the entry-point group ``hwnas.compressors``.
"""

from __future__ import annotations

from hwnas.compress.base import Compressed, CompressionStep
from hwnas.core.registry import Registry

COMPRESSORS: Registry[CompressionStep] = Registry("compression step", "hwnas.compressors", {
    "qat": "hwnas.compress.qat:QuantizationAwareTraining",
    "prune": "hwnas.compress.prune:ChannelPruning",
}, base=CompressionStep)

__all__ = ["COMPRESSORS", "CompressionStep", "Compressed"]
