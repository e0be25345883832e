"""Elastic transformer blocks: one set of full-size weights, any smaller encoder computed from a slice of it.

Slicing as in AutoFormer / HAT / BigNAS for transformers: the embedding width
``d`` takes the first ``d`` features of every weight that reads or writes the
residual stream (and the layer norms normalise over those ``d`` features only);
an attention layer with ``h`` heads of a fixed head size ``dh`` takes the first
``h * dh`` rows of the Q/K/V projections and the first ``h * dh`` columns of the
output projection (head slicing); an MLP of hidden size ``f`` takes the first
``f`` rows of ``fc1`` and columns of ``fc2``; depth is handled by the networks
(layers beyond the chosen depth are dropped from the top). Active sizes are given
at call time, so one module serves every sub-network without hidden state, and
each ``export`` returns a plain ``torch.nn`` module holding copies of exactly the
weights the forward used.

The exported modules run every operation as a module (:class:`MatMul` for the
attention products, ``nn.Softmax``, ``nn.LayerNorm``, ``nn.GELU``, :class:`Add`
for the residual joins), so the tracer (:mod:`hwnas.spaces.trace`) sees each one
with its shapes: what cost models read is what the module runs.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from hwnas.core.layers import Layer
from hwnas.spaces.elastic import Add, ElasticLinear


class MatMul(nn.Module):
    """``scale * (a @ b)`` over the last two axes, as a module so that tracing sees the product and its shapes."""

    def __init__(self, scale: float = 1.0):
        super().__init__()
        self.scale = float(scale)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        y = torch.matmul(a, b)
        return y * self.scale if self.scale != 1.0 else y


class TokenAdd(Add):
    """The residual join of a transformer: an element-wise sum of two ``[batch, tokens, features]`` tensors,
    described channel-last like the other transformer operations."""

    def describe_layers(self, name: str, a: torch.Tensor, b: torch.Tensor) -> list[Layer]:
        d = int(a.shape[-1])
        return [Layer("add", d, d, in_w=a[0].numel() // d, name=name)]


class ElasticLayerNorm(nn.Module):
    """Layer norm over the last ``d`` features (read off the input) with the first ``d`` scales and shifts."""

    def __init__(self, max_features: int, eps: float = 1e-12):
        super().__init__()
        self.max_features, self.eps = max_features, float(eps)
        self.weight = nn.Parameter(torch.ones(max_features))
        self.bias = nn.Parameter(torch.zeros(max_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d = x.shape[-1]
        return F.layer_norm(x, (d,), self.weight[:d], self.bias[:d], self.eps)

    def export(self, features: int) -> nn.LayerNorm:
        m = nn.LayerNorm(features, eps=self.eps)
        with torch.no_grad():
            m.weight.copy_(self.weight[:features])
            m.bias.copy_(self.bias[:features])
        return m


class ElasticEmbedding(nn.Module):
    """A lookup table of ``rows`` vectors whose first ``d`` features are used."""

    def __init__(self, rows: int, max_features: int):
        super().__init__()
        self.rows, self.max_features = rows, max_features
        self.weight = nn.Parameter(torch.randn(rows, max_features) * 0.02)

    def forward(self, ids: torch.Tensor, features: int) -> torch.Tensor:
        return F.embedding(ids, self.weight[:, :features])

    def export(self, features: int) -> nn.Embedding:
        m = nn.Embedding(self.rows, features)
        with torch.no_grad():
            m.weight.copy_(self.weight[:, :features])
        return m


class ElasticAttention(nn.Module):
    """Multi-head self-attention with an elastic number of heads (fixed head size) and width.

    Parameters ``q``, ``k``, ``v`` are ``[max_heads * head_dim, max_dim]`` projections, ``out``
    is ``[max_dim, max_heads * head_dim]``; ``forward(x, heads)`` runs the first ``heads`` heads
    on the input's width ``d`` and writes back ``d`` features.
    """

    def __init__(self, max_dim: int, max_heads: int, head_dim: int):
        super().__init__()
        self.max_heads, self.head_dim = max_heads, head_dim
        inner = max_heads * head_dim
        self.q = ElasticLinear(max_dim, inner)
        self.k = ElasticLinear(max_dim, inner)
        self.v = ElasticLinear(max_dim, inner)
        self.out = ElasticLinear(inner, max_dim)

    def forward(self, x: torch.Tensor, heads: int) -> torch.Tensor:
        d, inner = x.shape[-1], heads * self.head_dim

        def split(t):  # [B, L, h*dh] -> [B, h, L, dh]
            return t.unflatten(-1, (heads, self.head_dim)).transpose(1, 2)

        q, k, v = split(self.q(x, inner)), split(self.k(x, inner)), split(self.v(x, inner))
        scores = torch.matmul(q, k.transpose(-2, -1)) * (1.0 / math.sqrt(self.head_dim))
        context = torch.matmul(scores.softmax(-1), v).transpose(1, 2).flatten(2)
        return self.out(context, d)

    def export(self, dim: int, heads: int) -> Attention:
        inner = heads * self.head_dim
        return Attention(self.q.export(dim, inner), self.k.export(dim, inner), self.v.export(dim, inner),
                         self.out.export(inner, dim), heads, self.head_dim)


class Attention(nn.Module):
    """Plain multi-head self-attention (an exported :class:`ElasticAttention`)."""

    def __init__(self, q: nn.Linear, k: nn.Linear, v: nn.Linear, out: nn.Linear, heads: int, head_dim: int):
        super().__init__()
        self.q, self.k, self.v, self.out = q, k, v, out
        self.heads, self.head_dim = heads, head_dim
        self.scores = MatMul(1.0 / math.sqrt(head_dim))
        self.softmax = nn.Softmax(dim=-1)
        self.context = MatMul()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        def split(t):
            return t.unflatten(-1, (self.heads, self.head_dim)).transpose(1, 2)

        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        p = self.softmax(self.scores(q, k.transpose(-2, -1)))
        return self.out(self.context(p, v).transpose(1, 2).flatten(2))


class ElasticMLP(nn.Module):
    """``fc2(gelu(fc1(x)))`` with an elastic hidden size (``fc1`` ``[max_hidden, max_dim]``, ``fc2`` the transpose)."""

    def __init__(self, max_dim: int, max_hidden: int):
        super().__init__()
        self.fc1 = ElasticLinear(max_dim, max_hidden)
        self.fc2 = ElasticLinear(max_hidden, max_dim)

    def forward(self, x: torch.Tensor, hidden: int) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x, hidden)), x.shape[-1])

    def export(self, dim: int, hidden: int) -> nn.Sequential:
        return nn.Sequential(self.fc1.export(dim, hidden), nn.GELU(), self.fc2.export(hidden, dim))


class ElasticEncoderLayer(nn.Module):
    """One encoder layer: attention and MLP, each with a residual join and a layer norm.

    ``pre_norm=True`` (ViT): ``x + attn(norm1(x))`` then ``x + mlp(norm2(x))``;
    ``pre_norm=False`` (BERT): ``norm1(x + attn(x))`` then ``norm2(x + mlp(x))``.
    """

    def __init__(self, max_dim: int, max_heads: int, head_dim: int, max_hidden: int, pre_norm: bool,
                 eps: float = 1e-12):
        super().__init__()
        self.pre_norm = pre_norm
        self.norm1 = ElasticLayerNorm(max_dim, eps)
        self.attn = ElasticAttention(max_dim, max_heads, head_dim)
        self.norm2 = ElasticLayerNorm(max_dim, eps)
        self.mlp = ElasticMLP(max_dim, max_hidden)

    def forward(self, x: torch.Tensor, heads: int, hidden: int) -> torch.Tensor:
        if self.pre_norm:
            x = x + self.attn(self.norm1(x), heads)
            return x + self.mlp(self.norm2(x), hidden)
        x = self.norm1(x + self.attn(x, heads))
        return self.norm2(x + self.mlp(x, hidden))

    def export(self, dim: int, heads: int, hidden: int) -> EncoderLayer:
        return EncoderLayer(self.norm1.export(dim), self.attn.export(dim, heads), self.norm2.export(dim),
                            self.mlp.export(dim, hidden), self.pre_norm)


class EncoderLayer(nn.Module):
    """A plain (exported) encoder layer."""

    def __init__(self, norm1: nn.LayerNorm, attn: Attention, norm2: nn.LayerNorm, mlp: nn.Sequential, pre_norm: bool):
        super().__init__()
        self.norm1, self.attn, self.norm2, self.mlp = norm1, attn, norm2, mlp
        self.pre_norm = pre_norm
        self.add1, self.add2 = TokenAdd(), TokenAdd()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pre_norm:
            x = self.add1(x, self.attn(self.norm1(x)))
            return self.add2(x, self.mlp(self.norm2(x)))
        x = self.norm1(self.add1(x, self.attn(x)))
        return self.norm2(self.add2(x, self.mlp(x)))
