"""Few-shot supernets (Zhao et al., "Few-shot Neural Architecture Search", ICML 2021).

One weight-sharing supernet makes every sub-network compromise with every
other. Splitting the space by the choice of one dimension gives one supernet
per value of it (a "shot"); sub-networks share weights only with those of the
same value, so the conflict that dimension causes disappears. Which dimension
is worth splitting is measured, not assumed: on MNIST-1D's 1-D CNN space the
conv depth ``n_conv`` is one (a conv layer is the *last* one of the depth-``d``
networks and an *inner* one of the deeper ones; shared, the shallower stacks'
features are compromised; benchmarks/results/supernet.md).

:class:`FewShotSupernet` holds one supernet of the space per value of the
dimension and routes ``forward``/``extract`` by the architecture's value, so
everything that uses a supernet (BN recalibration, evaluation, extraction,
ONNX export, checkpoints) works unchanged. The trainer trains the shots in
turn (step ``i`` trains shot ``i mod G`` with its own sandwich: the largest,
smallest and random sub-networks *of that value*), so a step costs what a
plain step costs and each shot gets ``1/G`` of the steps: multiply ``epochs``
by the number of values to train each shot as long as one plain supernet.
"""

from __future__ import annotations

import torch
from torch import nn

from hwnas.core.errors import ConfigError
from hwnas.spaces.trainable import Supernet, TrainableSpace


class FewShotSupernet(Supernet):
    """One independent supernet of ``space`` per choice of dimension ``dim``."""

    def __init__(self, space: TrainableSpace, dim: str):
        super().__init__(space)
        names = [d.name for d in space.dimensions]
        if dim not in names:
            raise ConfigError(f"supernet.training.few_shot: {dim!r} is not a dimension of space {space.name!r} "
                              f"(one of {names})")
        self.dim, self.dim_index = dim, names.index(dim)
        self._dimension = space.dimensions[self.dim_index]
        self.values = tuple(self._dimension.choices)
        self.shots = nn.ModuleList(space.build_supernet() for _ in self.values)

    @property
    def n_shots(self) -> int:
        return len(self.values)

    def shot_of(self, arch: dict) -> int:
        """Index of the shot (sub-supernet) that holds ``arch``'s weights (a value outside the dimension is refused
        with the allowed ones)."""
        return self._dimension.index(arch.get(self.dim))

    def forward(self, x: torch.Tensor, arch: dict) -> torch.Tensor:
        return self.shots[self.shot_of(arch)](x, arch)

    def extract(self, arch: dict) -> nn.Module:
        return self.shots[self.shot_of(arch)].extract(arch)


def make_supernet(space: TrainableSpace, few_shot: str | None = None) -> Supernet:
    """The space's supernet, or a :class:`FewShotSupernet` split by dimension ``few_shot`` when given."""
    return space.build_supernet() if few_shot is None else FewShotSupernet(space, few_shot)
