"""The choices shared by the transformer spaces: width, depth, and heads and MLP size per layer.

Arch dict keys: ``width`` (embedding width ``d``), ``depth`` (encoder layers run,
counted from the bottom), ``l{i}_heads`` and ``l{i}_mlp`` (heads and MLP hidden
size of layer ``i``, counted from 1). Layers above the chosen depth are not run,
so the canonical form sets their genes to the first choice.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hwnas.core.errors import ConfigError
from hwnas.spaces.base import Dimension
from hwnas.spaces.trainable import TrainableSpace


def _choices(name: str, values: Sequence, minimum: int = 1) -> tuple[int, ...]:
    try:
        out = tuple(sorted({int(v) for v in values}))
    except (TypeError, ValueError):
        raise ConfigError(f"space.options.{name}: expected a list of integers, got {values!r}") from None
    if not out or out[0] < minimum:
        raise ConfigError(f"space.options.{name}: expected integers >= {minimum}, got {list(values)}")
    return out


class EncoderSpace(TrainableSpace):
    """Base of the transformer spaces: the elastic encoder's dimensions and canonical form."""

    def __init__(self, widths: Sequence[int], depths: Sequence[int], heads: Sequence[int], mlp_sizes: Sequence[int],
                 head_dim: int, norm_eps: float):
        self.widths = _choices("widths", widths)
        self.depths = _choices("depths", depths)
        self.heads = _choices("heads", heads)
        self.mlp_sizes = _choices("mlp_sizes", mlp_sizes)
        if not isinstance(head_dim, int) or isinstance(head_dim, bool) or head_dim < 1:
            raise ConfigError(f"space.options.head_dim: expected an integer >= 1, got {head_dim!r}")
        if not isinstance(norm_eps, (int, float)) or isinstance(norm_eps, bool) or not 0 < norm_eps < 1:
            raise ConfigError(f"space.options.norm_eps: expected a number in (0, 1), got {norm_eps!r}")
        self.head_dim, self.norm_eps = head_dim, float(norm_eps)
        self.max_depth = self.depths[-1]
        dims = [Dimension("width", self.widths), Dimension("depth", self.depths)]
        for i in range(1, self.max_depth + 1):
            dims += [Dimension(f"l{i}_heads", self.heads), Dimension(f"l{i}_mlp", self.mlp_sizes)]
        super().__init__(dims)

    def encoder_options(self) -> dict:
        return {"widths": list(self.widths), "depths": list(self.depths), "heads": list(self.heads),
                "mlp_sizes": list(self.mlp_sizes), "head_dim": self.head_dim, "norm_eps": self.norm_eps}

    def canonical(self, arch) -> dict:
        arch = dict(self.validate(arch))
        for i in range(arch["depth"] + 1, self.max_depth + 1):
            arch[f"l{i}_heads"], arch[f"l{i}_mlp"] = self.heads[0], self.mlp_sizes[0]
        return arch

    def canonical_genes(self, genes: np.ndarray) -> np.ndarray:
        """:meth:`canonical` of gene rows, vectorised."""
        genes = np.array(np.atleast_2d(genes), dtype=np.int64)
        depth = np.asarray(self.depths)[genes[:, 1]]
        for i in range(1, self.max_depth + 1):
            dropped = depth < i
            genes[dropped, 2 * i] = 0  # l{i}_heads
            genes[dropped, 2 * i + 1] = 0  # l{i}_mlp
        return genes

    def plan(self, arch: dict) -> list[tuple[int, int]]:
        """(heads, MLP size) of each layer run, bottom first."""
        return [(arch[f"l{i}_heads"], arch[f"l{i}_mlp"]) for i in range(1, arch["depth"] + 1)]
