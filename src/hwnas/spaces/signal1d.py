"""A 1-D CNN / MLP space for signals (detector pulses, bus messages, MNIST-1D).

Up to ``max_conv`` strided 1-D conv layers (channels and kernel per layer;
zero conv layers makes the network a plain MLP on the raw signal), then
``n_fc`` hidden fully connected layers (width per layer) and a classifier.
The conv output is flattened (channel-major), without pooling, so a narrower
conv layer uses the leading block of the first FC layer's inputs.

The first FC layer keeps one weight matrix per conv depth, because its input
means something different at each depth (each matrix is trained only by the
sub-networks of that depth).

Arch dict keys: ``n_conv``, ``conv{i}_channels``, ``conv{i}_kernel``,
``n_fc``, ``fc{i}_width`` (counted from 1).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from hwnas.core.errors import ConfigError
from hwnas.spaces.base import Dimension
from hwnas.spaces.elastic import ElasticBatchNorm, ElasticConv, ElasticLinear
from hwnas.spaces.trainable import Supernet, TrainableSpace


class Signal1DSpace(TrainableSpace):
    """1-D CNN/MLP space; ``input_shape`` is ``(channels, length)``."""

    name = "signal1d"

    def __init__(self, input_shape: Sequence[int] = (1, 40), num_classes: int = 10, max_conv: int = 3,
                 conv_channels: Sequence[int] = (8, 16, 32), conv_kernels: Sequence[int] = (3, 5, 7),
                 conv_stride: int = 2, max_fc: int = 2, fc_widths: Sequence[int] = (32, 64, 128)):
        self.input_shape = tuple(int(v) for v in input_shape)
        if len(self.input_shape) != 2:
            raise ConfigError(f"space.options.input_shape: signal1d needs (channels, length), got {list(input_shape)}")
        if max_conv < 0 or max_fc < 1 or conv_stride < 1:
            raise ConfigError("space.options: max_conv must be >= 0, max_fc >= 1, conv_stride >= 1")
        self.num_classes, self.max_conv, self.max_fc, self.conv_stride = (int(num_classes), int(max_conv),
                                                                          int(max_fc), int(conv_stride))
        self.conv_channels = tuple(sorted(int(c) for c in conv_channels))
        self.conv_kernels = tuple(sorted(int(k) for k in conv_kernels))
        if any(k % 2 == 0 for k in self.conv_kernels):
            raise ConfigError(f"space.options.conv_kernels: must be odd, got {list(conv_kernels)}")
        self.fc_widths = tuple(sorted(int(w) for w in fc_widths))
        dims = [Dimension("n_conv", tuple(range(0, self.max_conv + 1)))]
        for i in range(1, self.max_conv + 1):
            dims += [Dimension(f"conv{i}_channels", self.conv_channels), Dimension(f"conv{i}_kernel", self.conv_kernels)]
        dims.append(Dimension("n_fc", tuple(range(1, self.max_fc + 1))))
        dims += [Dimension(f"fc{i}_width", self.fc_widths) for i in range(1, self.max_fc + 1)]
        super().__init__(dims)

    def options(self) -> dict:
        return {"input_shape": list(self.input_shape), "num_classes": self.num_classes, "max_conv": self.max_conv,
                "conv_channels": list(self.conv_channels), "conv_kernels": list(self.conv_kernels),
                "conv_stride": self.conv_stride, "max_fc": self.max_fc, "fc_widths": list(self.fc_widths)}

    def lengths(self) -> list[int]:
        """Signal length after 0, 1, ... conv layers."""
        out = [self.input_shape[1]]
        for _ in range(self.max_conv):
            out.append(-(-out[-1] // self.conv_stride))
        return out

    def canonical(self, arch) -> dict:
        arch = dict(self.validate(arch))
        for i in range(arch["n_conv"] + 1, self.max_conv + 1):
            arch[f"conv{i}_channels"], arch[f"conv{i}_kernel"] = self.conv_channels[0], self.conv_kernels[0]
        for i in range(arch["n_fc"] + 1, self.max_fc + 1):
            arch[f"fc{i}_width"] = self.fc_widths[0]
        return arch

    def canonical_genes(self, genes: np.ndarray) -> np.ndarray:
        """:meth:`canonical` of gene rows, vectorised (the default strategy canonicalises the whole space, 52k rows
        by default, when it starts)."""
        genes = np.array(np.atleast_2d(genes), dtype=np.int64)
        col = {d.name: k for k, d in enumerate(self.dimensions)}
        n_conv = genes[:, col["n_conv"]]  # choices 0 .. max_conv: the gene is the count
        for i in range(1, self.max_conv + 1):
            unused = n_conv < i
            genes[unused, col[f"conv{i}_channels"]] = 0  # conv_channels[0], conv_kernels[0]: choices sorted
            genes[unused, col[f"conv{i}_kernel"]] = 0
        n_fc = genes[:, col["n_fc"]] + 1  # choices 1 .. max_fc
        for i in range(1, self.max_fc + 1):
            genes[n_fc < i, col[f"fc{i}_width"]] = 0
        return genes

    def precision_blocks(self) -> tuple[str, ...]:
        """The blocks a compression policy gives one precision each: every conv layer, FC layer and the classifier."""
        return (*(f"conv{i}" for i in range(1, self.max_conv + 1)), *(f"fc{i}" for i in range(1, self.max_fc + 1)),
                "classifier")

    def block_children(self, arch) -> dict[str, tuple[str, ...]]:
        """The blocks ``arch`` runs -> the names of their top-level children in :meth:`Signal1DSupernet.extract`'s module."""
        arch = self.canonical(arch)
        out, k = {}, 0
        for i in range(1, arch["n_conv"] + 1):
            out[f"conv{i}"] = (str(k), str(k + 1), str(k + 2))
            k += 3
        out["fc1"] = (str(k), str(k + 1), str(k + 2))  # flatten, linear, relu
        k += 3
        for i in range(2, arch["n_fc"] + 1):
            out[f"fc{i}"] = (str(k), str(k + 1))
            k += 2
        out["classifier"] = (str(k),)
        return out

    def build_supernet(self) -> Signal1DSupernet:
        return Signal1DSupernet(self)


class Signal1DSupernet(Supernet):
    def __init__(self, space: Signal1DSpace):
        super().__init__(space)
        cmax, kmax, wmax = max(space.conv_channels), max(space.conv_kernels), max(space.fc_widths)
        c_in = space.input_shape[0]
        self.convs = nn.ModuleList(ElasticConv(1, c_in if i == 0 else cmax, cmax, kmax) for i in range(space.max_conv))
        self.bns = nn.ModuleList(ElasticBatchNorm(1, cmax) for _ in range(space.max_conv))
        # one first-FC matrix per conv depth (0: the raw signal)
        self.first_fc = nn.ModuleList(ElasticLinear((c_in if d == 0 else cmax) * space.lengths()[d], wmax)
                                      for d in range(space.max_conv + 1))
        self.fcs = nn.ModuleList(ElasticLinear(wmax, wmax) for _ in range(space.max_fc - 1))
        self.classifier = ElasticLinear(wmax, space.num_classes)

    def forward(self, x: torch.Tensor, arch: dict) -> torch.Tensor:
        s: Signal1DSpace = self.space
        for i in range(arch["n_conv"]):
            x = F.relu(self.bns[i](self.convs[i](x, arch[f"conv{i + 1}_channels"], arch[f"conv{i + 1}_kernel"],
                                                 s.conv_stride)))
        x = F.relu(self.first_fc[arch["n_conv"]](x.flatten(1), arch["fc1_width"]))
        for i in range(1, arch["n_fc"]):
            x = F.relu(self.fcs[i - 1](x, arch[f"fc{i + 1}_width"]))
        return self.classifier(x)

    def extract(self, arch: dict) -> nn.Module:
        s: Signal1DSpace = self.space
        c = s.input_shape[0]
        layers: list[nn.Module] = []
        for i in range(arch["n_conv"]):
            out = arch[f"conv{i + 1}_channels"]
            layers += [self.convs[i].export(c, out, arch[f"conv{i + 1}_kernel"], s.conv_stride),
                       self.bns[i].export(out), nn.ReLU()]
            c = out
        features = c * s.lengths()[arch["n_conv"]]
        layers += [nn.Flatten(), self.first_fc[arch["n_conv"]].export(features, arch["fc1_width"]), nn.ReLU()]
        w = arch["fc1_width"]
        for i in range(1, arch["n_fc"]):
            layers += [self.fcs[i - 1].export(w, arch[f"fc{i + 1}_width"]), nn.ReLU()]
            w = arch[f"fc{i + 1}_width"]
        layers.append(self.classifier.export(w))
        return nn.Sequential(*layers).eval()
