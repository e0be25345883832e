"""An elastic BERT-style encoder for sequence classification over token ids.

Token and position embeddings are added and layer-normalised; the encoder layers
are post-norm as in BERT (``norm1(x + attn(x))``, ``norm2(x + mlp(x))``); the
pooler is a dense layer with tanh on the first token, then a linear classifier.
Choices: embedding width, depth, and heads and MLP size per layer
(:mod:`hwnas.spaces.encoder`); head size is fixed. The input is int64 token ids
``[batch, length]`` with ``length <= max_len`` and ids ``< vocab_size``.

Supernet parameter names (what pretrained weights are mapped onto):
``embed.tokens.weight`` ``[vocab, D]``, ``embed.positions.weight`` ``[max_len, D]``,
``embed.norm.{weight,bias}``, ``blocks.{i}.attn.{q,k,v}.{weight,bias}`` ``[H*dh, D]``,
``blocks.{i}.attn.out.{weight,bias}`` ``[D, H*dh]``, ``blocks.{i}.norm1``,
``blocks.{i}.mlp.fc1`` ``[F, D]``, ``blocks.{i}.mlp.fc2`` ``[D, F]``, ``blocks.{i}.norm2``,
``pooler.{weight,bias}`` ``[D, D]``, ``head.{weight,bias}`` ``[classes, D]``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from hwnas.core.errors import ConfigError, DataError
from hwnas.spaces.elastic import ElasticLinear
from hwnas.spaces.elastic_attention import ElasticEmbedding, ElasticEncoderLayer, ElasticLayerNorm, TokenAdd
from hwnas.spaces.encoder import EncoderSpace
from hwnas.spaces.trainable import Supernet


class TextEncoderSpace(EncoderSpace):
    """Elastic BERT-style encoder; ``input_shape`` is ``(length,)`` (token ids per sample)."""

    name = "text_encoder"

    def __init__(self, input_shape: Sequence[int] = (32,), num_classes: int = 2, vocab_size: int = 64,
                 max_len: int | None = None, widths: Sequence[int] = (16, 24, 32), depths: Sequence[int] = (1, 2, 3),
                 heads: Sequence[int] = (1, 2, 4), mlp_sizes: Sequence[int] = (32, 48, 64), head_dim: int = 8,
                 norm_eps: float = 1e-12):
        self.input_shape = tuple(int(v) for v in input_shape)
        if len(self.input_shape) != 1 or self.input_shape[0] < 1:
            raise ConfigError(f"space.options.input_shape: text_encoder needs (length,), got {list(input_shape)}")
        for name, v in (("vocab_size", vocab_size), ("num_classes", num_classes)):
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ConfigError(f"space.options.{name}: expected an integer >= 1, got {v!r}")
        length = self.input_shape[0]
        max_len = length if max_len is None else max_len
        if not isinstance(max_len, int) or isinstance(max_len, bool) or max_len < length:
            raise ConfigError(f"space.options.max_len: expected an integer >= the sequence length {length}, "
                              f"got {max_len!r}")
        self.num_classes, self.vocab_size, self.max_len = num_classes, vocab_size, max_len
        super().__init__(widths, depths, heads, mlp_sizes, head_dim, norm_eps)

    def options(self) -> dict:
        return {"input_shape": list(self.input_shape), "num_classes": self.num_classes,
                "vocab_size": self.vocab_size, "max_len": self.max_len, **self.encoder_options()}

    def build_supernet(self) -> TextEncoderSupernet:
        return TextEncoderSupernet(self)


def check_ids(ids: torch.Tensor, vocab_size: int, max_len: int) -> None:
    """Refuse a batch that is not int64 token ids of at most ``max_len`` positions below ``vocab_size``,
    naming the first bad sample (index within the batch)."""
    if ids.dtype != torch.int64 or ids.dim() != 2:
        raise DataError(f"text_encoder: expected int64 token ids [batch, length], got {ids.dtype} {list(ids.shape)}")
    if ids.shape[1] > max_len:
        raise DataError(f"text_encoder: sequences of {ids.shape[1]} tokens are longer than the positional "
                        f"embedding (max_len={max_len}); sample 0 is the first too long")
    bad = ((ids < 0) | (ids >= vocab_size)).any(1).nonzero()
    if len(bad):
        i = int(bad[0])
        raise DataError(f"text_encoder: sample {i} has token ids outside the vocabulary [0, {vocab_size}) "
                        f"(min {int(ids[i].min())}, max {int(ids[i].max())})")


class ElasticTextEmbedding(nn.Module):
    """Token + position embeddings and their layer norm, sliced to the first ``d`` features."""

    def __init__(self, vocab_size: int, max_len: int, max_dim: int, eps: float):
        super().__init__()
        self.tokens = ElasticEmbedding(vocab_size, max_dim)
        self.positions = ElasticEmbedding(max_len, max_dim)
        self.norm = ElasticLayerNorm(max_dim, eps)
        self.register_buffer("position_ids", torch.arange(max_len)[None], persistent=False)

    def forward(self, ids: torch.Tensor, d: int) -> torch.Tensor:
        pos = self.position_ids[:, :ids.shape[1]]
        return self.norm(self.tokens(ids, d) + self.positions(pos, d))

    def export(self, d: int) -> TextEmbedding:
        return TextEmbedding(self.tokens.export(d), self.positions.export(d), self.norm.export(d))


class TextEmbedding(nn.Module):
    """Plain token + position embeddings with their layer norm."""

    def __init__(self, tokens: nn.Embedding, positions: nn.Embedding, norm: nn.LayerNorm):
        super().__init__()
        self.tokens, self.positions, self.norm = tokens, positions, norm
        self.add = TokenAdd()
        self.register_buffer("position_ids", torch.arange(positions.num_embeddings)[None], persistent=False)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        tokens = self.tokens(ids)
        return self.norm(self.add(tokens, self.positions(self.position_ids[:, :ids.shape[1]])))


class TextEncoder(nn.Module):
    """A plain (extracted) text encoder; its input is int64 token ids (``input_vocab`` says how many ids)."""

    def __init__(self, embed: TextEmbedding, blocks: list[nn.Module], pooler: nn.Linear, head: nn.Linear):
        super().__init__()
        self.embed, self.blocks, self.pooler, self.head = embed, nn.ModuleList(blocks), pooler, head
        self.pool_act = nn.Tanh()
        self.input_vocab = embed.tokens.num_embeddings

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.embed(ids)
        for block in self.blocks:
            x = block(x)
        return self.head(self.pool_act(self.pooler(x[:, 0])))


class TextEncoderSupernet(Supernet):
    def __init__(self, space: TextEncoderSpace):
        super().__init__(space)
        d = space.widths[-1]
        self.embed = ElasticTextEmbedding(space.vocab_size, space.max_len, d, space.norm_eps)
        self.blocks = nn.ModuleList(ElasticEncoderLayer(d, space.heads[-1], space.head_dim, space.mlp_sizes[-1],
                                                        pre_norm=False, eps=space.norm_eps)
                                    for _ in range(space.max_depth))
        self.pooler = ElasticLinear(d, d)
        self.head = ElasticLinear(d, space.num_classes)

    def forward(self, ids: torch.Tensor, arch: dict) -> torch.Tensor:
        s: TextEncoderSpace = self.space
        if ids.shape[-1] > s.max_len:
            check_ids(ids, s.vocab_size, s.max_len)
        d = arch["width"]
        x = self.embed(ids, d)
        for block, (heads, hidden) in zip(self.blocks, s.plan(arch)):
            x = block(x, heads, hidden)
        return self.head(torch.tanh(self.pooler(x[:, 0], d)))

    def extract(self, arch: dict) -> nn.Module:
        s: TextEncoderSpace = self.space
        d = arch["width"]
        blocks = [block.export(d, heads, hidden) for block, (heads, hidden) in zip(self.blocks, s.plan(arch))]
        return TextEncoder(self.embed.export(d), blocks, self.pooler.export(d, d), self.head.export(d)).eval()
