"""The compression-step contract: a trained module in, a compressed module (and what it changed) out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Compressed:
    """A step's result: the compressed model and what it reports (e.g. ``{"bits": ..., "size_kb": ...}``)."""

    model: Any
    info: dict[str, Any] = field(default_factory=dict)


class CompressionStep(ABC):
    """Compresses one extracted sub-network.

    ``apply`` receives the standalone module of an architecture and the task data it may calibrate or
    fine-tune on, and returns a :class:`Compressed`; it must not modify the module it is given.
    ``describe`` identifies the step's settings (stored with a study, like a strategy's options).
    """

    name: str = "step"

    @abstractmethod
    def apply(self, module: Any, data: Any) -> Compressed:
        """The compressed model of ``module``."""

    def describe(self) -> dict:
        return {"step": self.name}
