"""An elastic vision transformer for small images (ViT, pre-LN blocks as in Hugging Face's ``ViTModel``).

Patches of ``patch x patch`` pixels are embedded by a strided convolution, a
class token is put in front, positional embeddings are added; then the encoder
layers (pre-norm: ``x + attn(norm1(x))``, ``x + mlp(norm2(x))``), a final layer
norm on the class token and a linear head. Choices: embedding width, depth, and
heads and MLP size per layer (:mod:`hwnas.spaces.encoder`); head size is fixed.
Digits (8x8) with 2x2 patches make 16 tokens plus the class token.

Supernet parameter names (what pretrained weights are mapped onto):
``embed.patch.{weight,bias}`` (``[D, C, p, p]``), ``embed.cls`` (``[1, 1, D]``),
``embed.positions`` (``[1, N+1, D]``), ``blocks.{i}.norm1``, ``blocks.{i}.attn.{q,k,v,out}``,
``blocks.{i}.norm2``, ``blocks.{i}.mlp.{fc1,fc2}``, ``norm``, ``head``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from hwnas.core.errors import ConfigError
from hwnas.core.layers import Layer
from hwnas.spaces.elastic import ElasticLinear
from hwnas.spaces.elastic_attention import ElasticEncoderLayer, ElasticLayerNorm
from hwnas.spaces.encoder import EncoderSpace
from hwnas.spaces.trainable import Supernet


class ViTSpace(EncoderSpace):
    """Elastic ViT; ``input_shape`` is ``(channels, height, width)``, both sides divisible by ``patch``."""

    name = "vit"

    def __init__(self, input_shape: Sequence[int] = (1, 8, 8), num_classes: int = 10, patch: int = 2,
                 widths: Sequence[int] = (16, 24, 32), depths: Sequence[int] = (1, 2, 3),
                 heads: Sequence[int] = (1, 2, 4), mlp_sizes: Sequence[int] = (32, 48, 64), head_dim: int = 8,
                 norm_eps: float = 1e-12):
        self.input_shape = tuple(int(v) for v in input_shape)
        if len(self.input_shape) != 3:
            raise ConfigError(f"space.options.input_shape: vit needs (channels, height, width), got {list(input_shape)}")
        if not isinstance(patch, int) or isinstance(patch, bool) or patch < 1:
            raise ConfigError(f"space.options.patch: expected an integer >= 1, got {patch!r}")
        c, h, w = self.input_shape
        if h % patch or w % patch:
            raise ConfigError(f"space.options.patch: images of {h}x{w} do not split into {patch}x{patch} patches; "
                              f"choose a patch size dividing both sides (or resize the images)")
        self.num_classes, self.patch = int(num_classes), patch
        self.tokens = (h // patch) * (w // patch) + 1
        super().__init__(widths, depths, heads, mlp_sizes, head_dim, norm_eps)

    def options(self) -> dict:
        return {"input_shape": list(self.input_shape), "num_classes": self.num_classes, "patch": self.patch,
                **self.encoder_options()}

    def build_supernet(self) -> ViTSupernet:
        return ViTSupernet(self)


class ElasticPatchEmbedding(nn.Module):
    """Patch embedding, class token and positional embedding, sliced to the first ``d`` features."""

    def __init__(self, channels: int, patch: int, tokens: int, max_dim: int):
        super().__init__()
        self.patch = nn.Conv2d(channels, max_dim, patch, patch)
        self.cls = nn.Parameter(torch.randn(1, 1, max_dim) * 0.02)
        self.positions = nn.Parameter(torch.randn(1, tokens, max_dim) * 0.02)

    def forward(self, x: torch.Tensor, d: int) -> torch.Tensor:
        p = self.patch
        x = F.conv2d(x, p.weight[:d], p.bias[:d], p.stride).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls[:, :, :d].expand(x.shape[0], -1, -1), x], 1)
        return x + self.positions[:, :, :d]

    def export(self, d: int) -> PatchEmbedding:
        p = self.patch
        conv = nn.Conv2d(p.in_channels, d, p.kernel_size, p.stride)
        with torch.no_grad():
            conv.weight.copy_(p.weight[:d])
            conv.bias.copy_(p.bias[:d])
        return PatchEmbedding(conv, ClassToken(self.cls[:, :, :d]), PositionEmbedding(self.positions[:, :, :d]))


class ClassToken(nn.Module):
    """Puts a learned token in front of the sequence (a one-row embedding lookup)."""

    def __init__(self, token: torch.Tensor):
        super().__init__()
        self.token = nn.Parameter(token.detach().clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.token.expand(x.shape[0], -1, -1), x], 1)

    def describe_layers(self, name: str, x: torch.Tensor) -> list[Layer]:
        return [Layer("embedding", 1, int(self.token.shape[-1]), name=name)]


class PositionEmbedding(nn.Module):
    """Adds a learned vector per position (a lookup of every row, then an add)."""

    def __init__(self, positions: torch.Tensor):
        super().__init__()
        self.positions = nn.Parameter(positions.detach().clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.positions

    def describe_layers(self, name: str, x: torch.Tensor) -> list[Layer]:
        rows, d = int(self.positions.shape[-2]), int(self.positions.shape[-1])
        return [Layer("embedding", rows, d, in_w=rows, name=f"{name}.lookup"),
                Layer("add", d, d, in_w=rows, name=f"{name}.add")]


class PatchEmbedding(nn.Module):
    """Plain patch embedding: conv, flatten to tokens, class token, positions."""

    def __init__(self, patch: nn.Conv2d, cls: ClassToken, positions: PositionEmbedding):
        super().__init__()
        self.patch, self.cls, self.positions = patch, cls, positions

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.positions(self.cls(self.patch(x).flatten(2).transpose(1, 2)))


class ViT(nn.Module):
    """A plain (extracted) ViT."""

    def __init__(self, embed: PatchEmbedding, blocks: list[nn.Module], norm: nn.LayerNorm, head: nn.Linear):
        super().__init__()
        self.embed, self.blocks, self.norm, self.head = embed, nn.ModuleList(blocks), norm, head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.embed(x)
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x[:, 0]))


class ViTSupernet(Supernet):
    def __init__(self, space: ViTSpace):
        super().__init__(space)
        d = space.widths[-1]
        self.embed = ElasticPatchEmbedding(space.input_shape[0], space.patch, space.tokens, d)
        self.blocks = nn.ModuleList(ElasticEncoderLayer(d, space.heads[-1], space.head_dim, space.mlp_sizes[-1],
                                                        pre_norm=True, eps=space.norm_eps)
                                    for _ in range(space.max_depth))
        self.norm = ElasticLayerNorm(d, space.norm_eps)
        self.head = ElasticLinear(d, space.num_classes)

    def forward(self, x: torch.Tensor, arch: dict) -> torch.Tensor:
        s: ViTSpace = self.space
        x = self.embed(x, arch["width"])
        for block, (heads, hidden) in zip(self.blocks, s.plan(arch)):
            x = block(x, heads, hidden)
        return self.head(self.norm(x[:, 0]))

    def extract(self, arch: dict) -> nn.Module:
        s: ViTSpace = self.space
        d = arch["width"]
        blocks = [block.export(d, heads, hidden) for block, (heads, hidden) in zip(self.blocks, s.plan(arch))]
        return ViT(self.embed.export(d), blocks, self.norm.export(d), self.head.export(d)).eval()
