"""A MobileNetV3-style elastic CNN for small images (Once-for-All's space, scaled down).

Per stage: depth (blocks beyond it are skipped); per block: depthwise kernel
3/5/7 and expansion ratio 3/4/6; one width multiplier for every hidden layer.
Blocks are inverted residuals (1x1 expand, kxk depthwise, 1x1 project, residual
when shape allows); ReLU in the stem and first stage, h-swish after, as in
MobileNetV3 (squeeze-excite is left out: tiny inputs gain nothing from it).
Arch dict keys: ``width``, ``s{i}_depth``, ``s{i}_b{j}_kernel``, ``s{i}_b{j}_expand``
(stages and blocks counted from 1).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from hwnas.core.errors import ConfigError
from hwnas.spaces.base import Dimension
from hwnas.spaces.elastic import Add, ElasticBatchNorm, ElasticConv, ElasticLinear, activation
from hwnas.spaces.trainable import Supernet, TrainableSpace

_ACT_FN = {"relu": F.relu, "hswish": F.hardswish}


def scaled(base: int, width: float) -> int:
    """Channels of a layer with ``base`` channels at width multiplier ``width`` (at least 2)."""
    return max(2, int(round(base * width)))


class MobileNetSpace(TrainableSpace):
    """Elastic MobileNetV3-style space. ``stages`` lists ``[channels, stride, max_depth]`` per stage."""

    name = "mobilenet"

    def __init__(self, input_shape: Sequence[int] = (1, 8, 8), num_classes: int = 10, stem: int = 8,
                 stages: Sequence[Sequence[int]] = ((12, 2, 2), (16, 1, 3), (24, 2, 2)), head: int = 48,
                 kernels: Sequence[int] = (3, 5, 7), expands: Sequence[int] = (3, 4, 6),
                 widths: Sequence[float] = (0.5, 0.75, 1.0), stem_stride: int = 1):
        self.input_shape = tuple(int(v) for v in input_shape)
        if len(self.input_shape) != 3:
            raise ConfigError(f"space.options.input_shape: mobilenet needs (channels, height, width), got {input_shape}")
        self.num_classes, self.stem, self.head = int(num_classes), int(stem), int(head)
        if stem_stride not in (1, 2):
            raise ConfigError(f"space.options.stem_stride: allowed 1 or 2, got {stem_stride!r}")
        self.stem_stride = int(stem_stride)
        self.stages = [tuple(int(v) for v in s) for s in stages]
        for i, s in enumerate(self.stages):
            if len(s) != 3 or s[1] not in (1, 2) or s[2] < 1 or s[0] < 1:
                raise ConfigError(f"space.options.stages[{i}]: expected [channels>=1, stride 1|2, max_depth>=1], got {list(s)}")
        self.kernels = tuple(sorted(int(k) for k in kernels))
        if any(k % 2 == 0 or k < 1 for k in self.kernels):
            raise ConfigError(f"space.options.kernels: must be odd positive sizes, got {list(kernels)}")
        self.expands = tuple(sorted(int(e) for e in expands))
        self.widths = tuple(sorted(float(w) for w in widths))
        if any(w <= 0 for w in self.widths) or any(e < 1 for e in self.expands):
            raise ConfigError("space.options: widths must be > 0 and expands >= 1")
        dims = [Dimension("width", self.widths)]
        for i, (_, _, depth) in enumerate(self.stages, start=1):
            dims.append(Dimension(f"s{i}_depth", tuple(range(1, depth + 1))))
            for j in range(1, depth + 1):
                dims.append(Dimension(f"s{i}_b{j}_kernel", self.kernels))
                dims.append(Dimension(f"s{i}_b{j}_expand", self.expands))
        super().__init__(dims)

    def options(self) -> dict:
        return {"input_shape": list(self.input_shape), "num_classes": self.num_classes, "stem": self.stem,
                "stages": [list(s) for s in self.stages], "head": self.head, "kernels": list(self.kernels),
                "expands": list(self.expands), "widths": list(self.widths), "stem_stride": self.stem_stride}

    def canonical(self, arch) -> dict:
        arch = dict(self.validate(arch))
        for i, (_, _, depth) in enumerate(self.stages, start=1):
            for j in range(arch[f"s{i}_depth"] + 1, depth + 1):
                arch[f"s{i}_b{j}_kernel"] = self.kernels[0]
                arch[f"s{i}_b{j}_expand"] = self.expands[0]
        return arch

    def canonical_genes(self, genes: np.ndarray) -> np.ndarray:
        """:meth:`canonical` of gene rows, vectorised (strategies canonicalise every candidate they consider)."""
        genes = np.array(np.atleast_2d(genes), dtype=np.int64)
        col = {d.name: k for k, d in enumerate(self.dimensions)}
        for i, (_, _, depth) in enumerate(self.stages, start=1):
            used = genes[:, col[f"s{i}_depth"]] + 1  # depth choices are 1 .. max_depth
            for j in range(2, depth + 1):
                skipped = used < j
                genes[skipped, col[f"s{i}_b{j}_kernel"]] = 0  # kernels[0] and expands[0]: choices sorted
                genes[skipped, col[f"s{i}_b{j}_expand"]] = 0
        return genes

    def precision_blocks(self) -> tuple[str, ...]:
        """The blocks a compression policy gives one precision each: the stem, every inverted residual, the head."""
        return ("stem", *(f"s{i}_b{j}" for i, (_, _, depth) in enumerate(self.stages, start=1)
                          for j in range(1, depth + 1)), "head")

    def block_children(self, arch) -> dict[str, tuple[str, ...]]:
        """The blocks ``arch`` runs -> the names of their top-level children in :meth:`MobileNetSupernet.extract`'s module."""
        arch = self.canonical(arch)
        out = {"stem": ("0", "1", "2")}
        k = 3
        for i, (_, _, _) in enumerate(self.stages, start=1):
            for j in range(1, arch[f"s{i}_depth"] + 1):
                out[f"s{i}_b{j}"] = (str(k),)
                k += 1
        out["head"] = tuple(str(k + n) for n in range(6))
        return out

    def stage_activation(self, i: int) -> str:
        return "relu" if i == 0 else "hswish"

    def build_supernet(self) -> MobileNetSupernet:
        return MobileNetSupernet(self)


class ElasticInvertedResidual(nn.Module):
    """1x1 expand -> kxk depthwise -> 1x1 project, with elastic channels, kernel and expansion."""

    def __init__(self, max_in: int, max_out: int, max_expand: int, max_kernel: int, act: str):
        super().__init__()
        mid = max_in * max_expand
        self.act = act
        self.expand = ElasticConv(2, max_in, mid, 1)
        self.bn1 = ElasticBatchNorm(2, mid)
        self.dw = ElasticConv(2, mid, mid, max_kernel, depthwise=True)
        self.bn2 = ElasticBatchNorm(2, mid)
        self.project = ElasticConv(2, mid, max_out, 1)
        self.bn3 = ElasticBatchNorm(2, max_out)

    def forward(self, x, out: int, kernel: int, expand: int, stride: int):
        c_in = x.shape[1]
        act = _ACT_FN[self.act]
        y = act(self.bn1(self.expand(x, c_in * expand)))
        y = act(self.bn2(self.dw(y, kernel=kernel, stride=stride)))
        y = self.bn3(self.project(y, out))
        return y + x if stride == 1 and c_in == out else y

    def export(self, c_in: int, out: int, kernel: int, expand: int, stride: int) -> nn.Module:
        mid = c_in * expand
        body = nn.Sequential(self.expand.export(c_in, mid), self.bn1.export(mid), activation(self.act),
                             self.dw.export(mid, kernel=kernel, stride=stride), self.bn2.export(mid),
                             activation(self.act), self.project.export(mid, out), self.bn3.export(out))
        return InvertedResidual(body, residual=stride == 1 and c_in == out)


class InvertedResidual(nn.Module):
    """A plain (exported) inverted residual block."""

    def __init__(self, body: nn.Sequential, residual: bool):
        super().__init__()
        self.body = body
        self.residual = residual
        self.add = Add() if residual else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x)
        return self.add(x, y) if self.add is not None else y


class MobileNetSupernet(Supernet):
    def __init__(self, space: MobileNetSpace):
        super().__init__(space)
        wmax, kmax, emax = max(space.widths), max(space.kernels), max(space.expands)
        c_in = space.input_shape[0]
        stem = scaled(space.stem, wmax)
        self.stem = ElasticConv(2, c_in, stem, 3)
        self.stem_bn = ElasticBatchNorm(2, stem)
        self.blocks = nn.ModuleList()
        prev = stem
        for i, (ch, _, depth) in enumerate(space.stages):
            out = scaled(ch, wmax)
            stage = nn.ModuleList()
            for j in range(depth):
                stage.append(ElasticInvertedResidual(prev if j == 0 else out, out, emax, kmax, space.stage_activation(i)))
            self.blocks.append(stage)
            prev = out
        head = scaled(space.head, wmax)
        self.head = ElasticConv(2, prev, head, 1)
        self.head_bn = ElasticBatchNorm(2, head)
        self.classifier = ElasticLinear(head, space.num_classes)

    def _plan(self, arch: dict):
        s: MobileNetSpace = self.space
        w = arch["width"]
        for i, (ch, stride, _) in enumerate(s.stages, start=1):
            for j in range(1, arch[f"s{i}_depth"] + 1):
                yield (i - 1, j - 1, scaled(ch, w), arch[f"s{i}_b{j}_kernel"], arch[f"s{i}_b{j}_expand"],
                       stride if j == 1 else 1)

    def forward(self, x: torch.Tensor, arch: dict) -> torch.Tensor:
        s: MobileNetSpace = self.space
        w = arch["width"]
        x = F.relu(self.stem_bn(self.stem(x, scaled(s.stem, w), stride=s.stem_stride)))
        for i, j, out, k, e, stride in self._plan(arch):
            x = self.blocks[i][j](x, out, k, e, stride)
        x = F.hardswish(self.head_bn(self.head(x, scaled(s.head, w))))
        return self.classifier(x.mean((2, 3)))

    def extract(self, arch: dict) -> nn.Module:
        s: MobileNetSpace = self.space
        w = arch["width"]
        c = scaled(s.stem, w)
        layers: list[nn.Module] = [self.stem.export(s.input_shape[0], c, 3, s.stem_stride), self.stem_bn.export(c), nn.ReLU()]
        for i, j, out, k, e, stride in self._plan(arch):
            layers.append(self.blocks[i][j].export(c, out, k, e, stride))
            c = out
        h = scaled(s.head, w)
        layers += [self.head.export(c, h), self.head_bn.export(h), nn.Hardswish(), nn.AdaptiveAvgPool2d(1),
                   nn.Flatten(), self.classifier.export(h)]
        return nn.Sequential(*layers).eval()
