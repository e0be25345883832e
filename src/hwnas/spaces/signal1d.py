"""A 1-D CNN / MLP space for signals (detector pulses, bus messages, MNIST-1D).

Up to ``max_conv`` strided 1-D conv layers (channels and kernel per layer;
zero conv layers makes the network a plain MLP on the raw signal), then
``n_fc`` hidden fully connected layers (width per layer) and a classifier.
The conv output is flattened (channel-major), so a narrower conv layer uses
the leading block of the first FC layer's inputs.

``conv_head`` decides how the conv output meets the first FC layer:

* ``"flatten"`` (default): no pooling; the first FC layer keeps one weight
  matrix per conv depth, because its input means something different at each
  depth (each matrix is trained only by the sub-networks of that depth).
* ``"pool"``: the output of a shallower conv stack is average-pooled
  (window = stride = ``conv_stride ** (max_conv - n_conv)``) to the length the
  deepest stack produces, so **one** first FC layer serves every conv depth and
  is trained by every sub-network with a conv layer (the pure MLP,
  ``n_conv = 0``, keeps its own matrix on the raw signal). These are other
  networks (shallow stacks lose resolution). Measured on MNIST-1D it did not
  rank sub-networks better than ``"flatten"``: the shared matrix is tuned to the
  deepest stack (trained every step), so depth-2 networks are under-rated
  (benchmarks/results/supernet.md, round 3).

``classifier_per_depth: true`` gives the classifier one weight matrix per FC
depth (its input is the first FC layer's output at ``n_fc = 1`` and the second's
at ``n_fc = 2``: different features; shared, they are a compromise).
``kernel_transform: true`` gives every conv layer Once-for-All's kernel
transformation matrices (:class:`~hwnas.spaces.elastic.ElasticConv`).
``first_conv_per_width: true`` gives the first conv layer (and its batch norm)
one weight tensor per channel choice instead of slicing the widest one (a
few-shot split of that layer): a narrow first layer no longer inherits filters
trained inside the wide one.
``split_fc_depth: true`` splits the FC part by FC depth (few-shot on ``n_fc``):
each FC depth gets its own first FC matrices and classifier (implies
``classifier_per_depth``), so only the conv layers (and the hidden FC layers
beyond the first, among the deeper stacks) are shared between FC depths.

Arch dict keys: ``n_conv``, ``conv{i}_channels``, ``conv{i}_kernel``,
``n_fc``, ``fc{i}_width`` (counted from 1).
"""

from __future__ import annotations

from collections.abc import Sequence

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
    supernet_only_options = ("kernel_transform", "classifier_per_depth", "first_conv_per_width",
                             "split_fc_depth")

    def __init__(self, input_shape: Sequence[int] = (1, 40), num_classes: int = 10, max_conv: int = 3,
                 conv_channels: Sequence[int] = (8, 16, 32), conv_kernels: Sequence[int] = (3, 5, 7),
                 conv_stride: int = 2, max_fc: int = 2, fc_widths: Sequence[int] = (32, 64, 128),
                 conv_head: str = "flatten", kernel_transform: bool = False, classifier_per_depth: bool = False,
                 first_conv_per_width: bool = False, split_fc_depth: bool = False):
        self.input_shape = tuple(int(v) for v in input_shape)
        if len(self.input_shape) != 2:
            raise ConfigError(f"space.options.input_shape: signal1d needs (channels, length), got {list(input_shape)}")
        if max_conv < 0 or max_fc < 1 or conv_stride < 1:
            raise ConfigError("space.options: max_conv must be >= 0, max_fc >= 1, conv_stride >= 1")
        if conv_head not in ("pool", "flatten"):
            raise ConfigError(f"space.options.conv_head: allowed 'pool' or 'flatten', got {conv_head!r}")
        self.conv_head = conv_head
        self._set_sharing_options(kernel_transform=kernel_transform, classifier_per_depth=classifier_per_depth,
                                  first_conv_per_width=first_conv_per_width, split_fc_depth=split_fc_depth)
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
        opts = {"input_shape": list(self.input_shape), "num_classes": self.num_classes, "max_conv": self.max_conv,
                "conv_channels": list(self.conv_channels), "conv_kernels": list(self.conv_kernels),
                "conv_stride": self.conv_stride, "max_fc": self.max_fc, "fc_widths": list(self.fc_widths)}
        if self.conv_head != "flatten":  # the default is left out, so spaces and checkpoints from before it match
            opts["conv_head"] = self.conv_head
        return {**opts, **self._sharing_options()}

    def lengths(self) -> list[int]:
        """Signal length after 0, 1, ... conv layers."""
        out = [self.input_shape[1]]
        for _ in range(self.max_conv):
            out.append(-(-out[-1] // self.conv_stride))
        return out

    def pool_factor(self, n_conv: int) -> int:
        """Average-pooling window (= stride) after ``n_conv`` conv layers (1: none)."""
        if self.conv_head != "pool" or n_conv == 0:
            return 1
        return self.conv_stride ** (self.max_conv - n_conv)

    def head_index(self, n_conv: int) -> int:
        """Which first-FC weight matrix the sub-networks with ``n_conv`` conv layers use."""
        if self.conv_head == "pool":
            return min(n_conv, 1)
        return n_conv

    def head_length(self, n_conv: int) -> int:
        """Signal length entering the first FC layer after ``n_conv`` conv layers (and pooling)."""
        length = self.lengths()[n_conv]
        f = self.pool_factor(n_conv)
        return -(-length // f)

    def canonical(self, arch) -> dict:
        arch = dict(self.validate(arch))
        for i in range(arch["n_conv"] + 1, self.max_conv + 1):
            arch[f"conv{i}_channels"], arch[f"conv{i}_kernel"] = self.conv_channels[0], self.conv_kernels[0]
        for i in range(arch["n_fc"] + 1, self.max_fc + 1):
            arch[f"fc{i}_width"] = self.fc_widths[0]
        return arch

    def shrink_groups(self) -> list[tuple[str, list[str]]]:
        names = [d.name for d in self.dimensions]
        return [("kernel", [n for n in names if n.endswith("_kernel")]),
                ("depth", ["n_conv", "n_fc"]),
                ("width", [n for n in names if n.endswith("_channels") or n.endswith("_width")])]

    def build_supernet(self) -> Signal1DSupernet:
        return Signal1DSupernet(self)


class Signal1DSupernet(Supernet):
    def __init__(self, space: Signal1DSpace):
        super().__init__(space)
        cmax, kmax, wmax = max(space.conv_channels), max(space.conv_kernels), max(space.fc_widths)
        c_in = space.input_shape[0]
        ks = space.conv_kernels if space.kernel_transform else None
        self.convs = nn.ModuleList(ElasticConv(1, c_in if i == 0 else cmax, cmax, kmax, kernels=ks)
                                   for i in range(space.max_conv))
        self.bns = nn.ModuleList(ElasticBatchNorm(1, cmax) for _ in range(space.max_conv))
        if space.first_conv_per_width and space.max_conv:
            # one first conv layer (and BN) per channel choice, the widest being convs[0] / bns[0]
            self.first_convs = nn.ModuleDict({str(c): ElasticConv(1, c_in, c, kmax, kernels=ks)
                                              for c in space.conv_channels[:-1]})
            self.first_bns = nn.ModuleDict({str(c): ElasticBatchNorm(1, c) for c in space.conv_channels[:-1]})
        # one matrix per head_index: pooled head -> raw signal (MLP) and one shared by every conv depth
        depths = sorted({0, space.max_conv}) if space.conv_head == "pool" else range(space.max_conv + 1)
        self.first_fc = nn.ModuleList(ElasticLinear((c_in if d == 0 else cmax) * space.head_length(d), wmax)
                                      for d in depths)
        if space.split_fc_depth:  # first FC matrices of n_fc = 2, 3, ... (``first_fc`` serves n_fc = 1)
            self.deep_first_fc = nn.ModuleList(
                nn.ModuleList(ElasticLinear((c_in if d == 0 else cmax) * space.head_length(d), wmax) for d in depths)
                for _ in range(space.max_fc - 1))
        self.fcs = nn.ModuleList(ElasticLinear(wmax, wmax) for _ in range(space.max_fc - 1))
        # the classifier reads the last hidden FC layer: with classifier_per_depth one matrix per FC depth
        # (n_fc = 1, 2, ...), as the first FC layer has one per conv depth; else one shared by every depth
        # (``classifier`` serves n_fc = 1, ``deep_classifiers[i]`` n_fc = i + 2)
        self.classifier = ElasticLinear(wmax, space.num_classes)
        if space.classifier_per_depth or space.split_fc_depth:
            self.deep_classifiers = nn.ModuleList(ElasticLinear(wmax, space.num_classes)
                                                  for _ in range(space.max_fc - 1))

    def classifier_for(self, n_fc: int) -> ElasticLinear:
        if n_fc == 1 or not (self.space.classifier_per_depth or self.space.split_fc_depth):
            return self.classifier
        return self.deep_classifiers[n_fc - 2]

    def first_fc_for(self, n_conv: int, n_fc: int) -> ElasticLinear:
        i = self.space.head_index(n_conv)
        if n_fc == 1 or not self.space.split_fc_depth:
            return self.first_fc[i]
        return self.deep_first_fc[n_fc - 2][i]

    def conv_layer(self, i: int, channels: int) -> tuple[ElasticConv, ElasticBatchNorm]:
        """The conv and BN modules conv layer ``i`` (from 0) uses at ``channels`` output channels."""
        if i == 0 and self.space.first_conv_per_width and str(channels) in self.first_convs:
            return self.first_convs[str(channels)], self.first_bns[str(channels)]
        return self.convs[i], self.bns[i]

    def forward(self, x: torch.Tensor, arch: dict) -> torch.Tensor:
        s: Signal1DSpace = self.space
        for i in range(arch["n_conv"]):
            conv, bn = self.conv_layer(i, arch[f"conv{i + 1}_channels"])
            x = F.relu(bn(conv(x, arch[f"conv{i + 1}_channels"], arch[f"conv{i + 1}_kernel"], s.conv_stride)))
        f = s.pool_factor(arch["n_conv"])
        if f > 1:
            x = F.avg_pool1d(x, f, f, ceil_mode=True)
        x = F.relu(self.first_fc_for(arch["n_conv"], arch["n_fc"])(x.flatten(1), arch["fc1_width"]))
        for i in range(1, arch["n_fc"]):
            x = F.relu(self.fcs[i - 1](x, arch[f"fc{i + 1}_width"]))
        return self.classifier_for(arch["n_fc"])(x)

    def extract(self, arch: dict) -> nn.Module:
        s: Signal1DSpace = self.space
        c = s.input_shape[0]
        layers: list[nn.Module] = []
        for i in range(arch["n_conv"]):
            out = arch[f"conv{i + 1}_channels"]
            conv, bn = self.conv_layer(i, out)
            layers += [conv.export(c, out, arch[f"conv{i + 1}_kernel"], s.conv_stride), bn.export(out), nn.ReLU()]
            c = out
        f = s.pool_factor(arch["n_conv"])
        if f > 1:
            layers.append(nn.AvgPool1d(f, f, ceil_mode=True))
        features = c * s.head_length(arch["n_conv"])
        layers += [nn.Flatten(), self.first_fc_for(arch["n_conv"], arch["n_fc"]).export(features, arch["fc1_width"]),
                   nn.ReLU()]
        w = arch["fc1_width"]
        for i in range(1, arch["n_fc"]):
            layers += [self.fcs[i - 1].export(w, arch[f"fc{i + 1}_width"]), nn.ReLU()]
            w = arch[f"fc{i + 1}_width"]
        layers.append(self.classifier_for(arch["n_fc"]).export(w))
        return nn.Sequential(*layers).eval()
