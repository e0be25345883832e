"""Structured (channel) pruning of an extracted sub-network with torch-pruning's dependency graph.

Channels are removed, not masked: the pruned module is a smaller dense network, so every
runtime runs it faster. torch-pruning (Fang et al., "DepGraph", CVPR 2023) traces the module
and groups the layers whose channels are coupled: a conv and the batch norm after it, the
depthwise conv that must keep as many channels as its input, both sides of a residual add.
Each group is ranked by the L2 magnitude of its weights and the lowest ``ratio`` of its
channels removed; the classifier's outputs (the classes) are never pruned. With ``round_to``
the channels a group keeps are rounded down to a multiple of it (torch-pruning's ``round_to``;
a group whose share rounds down to none is left whole): ONNX Runtime's CPU convolutions work
on blocks of channels (16 fp32 lanes with AVX-512), and channel counts off the block keep less
of the speed-up the removed work promises (benchmarks/results/prune.md). The pruned module is then
fine-tuned on the training split to recover the accuracy lost.

Unstructured and N:M (2:4) sparsity are not offered: no CPU runtime used here runs them faster
(ONNX Runtime densifies sparse initializers; torch's semi-structured sparsity needs CUDA), and
hwnas does not report a latency gain a runtime does not deliver.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from hwnas.compress.base import Compressed, CompressionStep
from hwnas.compress.finetune import finetune
from hwnas.core.errors import ConfigError
from hwnas.data.base import TaskData


def _classifier(module: nn.Module) -> nn.Module | None:
    """The last conv / linear layer (its outputs are the classes)."""
    last = None
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d)):
            last = m
    return last


def prune_channels(module: nn.Module, ratio: float, input_shape: tuple[int, ...],
                   round_to: int | None = None) -> nn.Module:
    """A copy of ``module`` with ``ratio`` of the channels of every prunable group removed (L2 magnitude); with
    ``round_to``, each group keeps a multiple of ``round_to`` channels (rounded down; a group whose share rounds
    to none stays whole)."""
    try:
        import torch_pruning as tp
    except ImportError:
        raise ConfigError("prune: channel pruning needs torch-pruning (pip install 'hwnas[prune]', or "
                          "pip install --no-deps torch-pruning next to your torch)") from None
    if not 0.0 < ratio < 1.0:
        raise ConfigError(f"prune: ratio={ratio!r} must be between 0 and 1 (the fraction of channels removed)")
    if round_to is not None and (isinstance(round_to, bool) or not isinstance(round_to, int) or round_to < 1):
        raise ConfigError(f"prune: round_to={round_to!r} must be a whole number of channels >= 1 (or None)")
    module = copy.deepcopy(module).eval()
    example = torch.zeros(input_shape)
    head = _classifier(module)
    pruner = tp.pruner.MetaPruner(module, example, importance=tp.importance.GroupMagnitudeImportance(p=2),
                                  pruning_ratio=ratio, ignored_layers=[head] if head is not None else [],
                                  round_to=round_to)
    pruner.step()
    return module.eval()


def channel_count(module: nn.Module) -> int:
    """Output channels of every conv and linear layer, summed."""
    return sum(m.out_channels if isinstance(m, (nn.Conv1d, nn.Conv2d)) else m.out_features
               for m in module.modules() if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d)))


class ChannelPruning(CompressionStep):
    """``prune``: remove ``ratio`` of the channels (dependency-graph groups, L2 magnitude; kept counts rounded to
    multiples of ``round_to`` if given), fine-tune ``epochs`` epochs; ``info`` holds the ratio and the parameter
    counts before and after."""

    name = "prune"

    def __init__(self, ratio: float = 0.5, epochs: int = 5, lr: float = 1e-3, batch_size: int = 128, seed: int = 0,
                 round_to: int | None = None):
        if not 0.0 < ratio < 1.0:
            raise ConfigError(f"compress prune: ratio={ratio!r} must be between 0 and 1")
        if round_to is not None and (isinstance(round_to, bool) or not isinstance(round_to, int) or round_to < 1):
            raise ConfigError(f"compress prune: round_to={round_to!r} must be a whole number of channels >= 1")
        self.round_to = round_to
        if epochs < 0 or lr <= 0 or batch_size < 1:
            raise ConfigError("compress prune: epochs >= 0, lr > 0, batch_size >= 1")
        self.ratio, self.epochs, self.lr, self.batch_size, self.seed = float(ratio), int(epochs), float(lr), \
            int(batch_size), int(seed)

    def apply(self, module: nn.Module, data: TaskData) -> Compressed:
        before = sum(p.numel() for p in module.parameters())
        pruned = prune_channels(module, self.ratio, (1, *data.input_shape), self.round_to)
        pruned = finetune(pruned, data, self.epochs, self.lr, self.batch_size, self.seed)
        return Compressed(pruned, {"prune": self.ratio, "params_before": before,
                                   "params": sum(p.numel() for p in pruned.parameters())})

    def describe(self) -> dict:
        return {"step": self.name, "ratio": self.ratio, "epochs": self.epochs, "lr": self.lr,
                "batch_size": self.batch_size, "seed": self.seed, "round_to": self.round_to}
