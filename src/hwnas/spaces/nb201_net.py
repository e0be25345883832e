"""The NAS-Bench-201 cell network, trainable as a one-shot supernet, with the tabular benchmark's arch strings.

The space *is* :class:`~hwnas.spaces.nb201.NB201Space` (same dimensions, text
form and canonical form) plus a network: a 3x3 stem, three stages of
``cells_per_stage`` cells at ``channels``, 2x and 4x channels joined by
ResNet reduction blocks, then BN-ReLU, global pooling and a classifier (as in
NAS-Bench-201, scaled down by the options for small inputs). Every cell runs the
same genotype; each edge of each supernet cell holds all five operations and a
sub-network uses one per edge (single-path one-shot weight sharing). Edges that
the canonical form drops are not run.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from hwnas.core.errors import ConfigError
from hwnas.spaces.elastic import Add, ElasticBatchNorm, ElasticConv, ElasticLinear
from hwnas.spaces.nb201 import EDGES, OPS, NB201Space
from hwnas.spaces.trainable import Supernet, TrainableSpace


class NB201NetSpace(TrainableSpace, NB201Space):
    """Trainable NB201 cell network; arch strings exactly as in the NB201 table."""

    name = "nb201_net"

    def __init__(self, input_shape: Sequence[int] = (1, 8, 8), num_classes: int = 10, channels: int = 8,
                 cells_per_stage: int = 1):
        self.input_shape = tuple(int(v) for v in input_shape)
        if len(self.input_shape) != 3:
            raise ConfigError(f"space.options.input_shape: nb201_net needs (channels, height, width), got {input_shape}")
        if channels < 1 or cells_per_stage < 1:
            raise ConfigError("space.options: channels and cells_per_stage must be >= 1")
        self.num_classes, self.channels, self.cells_per_stage = int(num_classes), int(channels), int(cells_per_stage)
        NB201Space.__init__(self)

    def options(self) -> dict:
        return {"input_shape": list(self.input_shape), "num_classes": self.num_classes,
                "channels": self.channels, "cells_per_stage": self.cells_per_stage}

    def largest(self) -> dict:
        return {d.name: "nor_conv_3x3" for d in self.dimensions}

    def smallest(self) -> dict:
        return {d.name: "skip_connect" for d in self.dimensions}

    def build_supernet(self) -> NB201Supernet:
        return NB201Supernet(self)


class ReLUConvBN(nn.Module):
    def __init__(self, c: int, kernel: int):
        super().__init__()
        self.conv = ElasticConv(2, c, c, kernel)
        self.bn = ElasticBatchNorm(2, c)

    def forward(self, x):
        return self.bn(self.conv(torch.relu(x)))

    def export(self, c: int) -> nn.Module:
        return nn.Sequential(nn.ReLU(), self.conv.export(c, c), self.bn.export(c))


def _pool() -> nn.Module:
    return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)


class SuperCell(nn.Module):
    """All five operations on each of the six edges."""

    def __init__(self, c: int):
        super().__init__()
        self.c = c
        self.edges = nn.ModuleDict()
        for k, j in EDGES:
            self.edges[f"{j}_{k}"] = nn.ModuleDict({"nor_conv_1x1": ReLUConvBN(c, 1), "nor_conv_3x3": ReLUConvBN(c, 3),
                                                   "avg_pool_3x3": _pool()})

    def _op(self, name: str, edge: str):
        if name == "skip_connect":
            return nn.Identity()
        return self.edges[edge][name]

    def forward(self, x: torch.Tensor, arch: dict) -> torch.Tensor:
        nodes = [x]
        for k in (1, 2, 3):
            terms = [self._op(arch[f"edge_{j}_{k}"], f"{j}_{k}")(nodes[j]) for j in range(k)
                     if arch[f"edge_{j}_{k}"] != "none"]
            nodes.append(sum(terms[1:], terms[0]) if terms else torch.zeros_like(x))
        return nodes[3]

    def export(self, arch: dict) -> nn.Module:
        ops = nn.ModuleDict()
        for k, j in EDGES:
            op = arch[f"edge_{j}_{k}"]
            if op == "none":
                continue
            m = self._op(op, f"{j}_{k}")
            ops[f"{j}_{k}"] = m.export(self.c) if isinstance(m, ReLUConvBN) else (
                _pool() if op == "avg_pool_3x3" else nn.Identity())
        return Cell(ops)


class Cell(nn.Module):
    """A plain cell: the chosen operation per edge, node sums as Add modules."""

    def __init__(self, ops: nn.ModuleDict):
        super().__init__()
        self.ops = ops
        self.adds = nn.ModuleList([Add() for _ in range(6)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes, used = [x], 0
        for k in (1, 2, 3):
            acc = None
            for j in range(k):
                name = f"{j}_{k}"
                if name not in self.ops:
                    continue
                y = self.ops[name](nodes[j])
                if acc is None:
                    acc = y
                else:
                    acc = self.adds[used](acc, y)
                    used += 1
            nodes.append(acc if acc is not None else torch.zeros_like(x))
        return nodes[3]


class SuperReduction(nn.Module):
    """NAS-Bench-201's ResNet basic block with stride 2 (not searched)."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv_a = ElasticConv(2, c_in, c_out, 3)
        self.bn_a = ElasticBatchNorm(2, c_out)
        self.conv_b = ElasticConv(2, c_out, c_out, 3)
        self.bn_b = ElasticBatchNorm(2, c_out)
        self.pool = nn.AvgPool2d(2, 2, ceil_mode=True)
        self.short = ElasticConv(2, c_in, c_out, 1)
        self.c_in, self.c_out = c_in, c_out

    def forward(self, x):
        y = self.bn_a(self.conv_a(torch.relu(x), stride=2))
        y = self.bn_b(self.conv_b(torch.relu(y)))
        return self.short(self.pool(x)) + y

    def export(self) -> nn.Module:
        a = nn.Sequential(nn.ReLU(), self.conv_a.export(self.c_in, stride=2), self.bn_a.export(self.c_out),
                          nn.ReLU(), self.conv_b.export(self.c_out), self.bn_b.export(self.c_out))
        return Reduction(a, nn.Sequential(nn.AvgPool2d(2, 2, ceil_mode=True), self.short.export(self.c_in)))


class Reduction(nn.Module):
    def __init__(self, body: nn.Module, shortcut: nn.Module):
        super().__init__()
        self.body, self.shortcut, self.add = body, shortcut, Add()

    def forward(self, x):
        return self.add(self.shortcut(x), self.body(x))


class NB201Supernet(Supernet):
    def __init__(self, space: NB201NetSpace):
        super().__init__(space)
        c = space.channels
        self.stem = ElasticConv(2, space.input_shape[0], c, 3)
        self.stem_bn = ElasticBatchNorm(2, c)
        self.stages = nn.ModuleList()
        for s in range(3):
            mods = nn.ModuleList()
            if s > 0:
                mods.append(SuperReduction(c * 2 ** (s - 1), c * 2 ** s))
            mods.extend(SuperCell(c * 2 ** s) for _ in range(space.cells_per_stage))
            self.stages.append(mods)
        self.last_bn = ElasticBatchNorm(2, 4 * c)
        self.classifier = ElasticLinear(4 * c, space.num_classes)

    def forward(self, x: torch.Tensor, arch: dict) -> torch.Tensor:
        arch = self.space.canonical(arch)
        x = self.stem_bn(self.stem(x))
        for stage in self.stages:
            for m in stage:
                x = m(x, arch) if isinstance(m, SuperCell) else m(x)
        x = torch.relu(self.last_bn(x))
        return self.classifier(x.mean((2, 3)))

    def extract(self, arch: dict) -> nn.Module:
        arch = self.space.canonical(arch)
        c = self.space.channels
        layers: list[nn.Module] = [self.stem.export(self.space.input_shape[0], c), self.stem_bn.export(c)]
        for stage in self.stages:
            layers += [m.export(arch) if isinstance(m, SuperCell) else m.export() for m in stage]
        layers += [self.last_bn.export(4 * c), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                   self.classifier.export(4 * c)]
        return nn.Sequential(*layers).eval()


assert OPS[0] == "none"
