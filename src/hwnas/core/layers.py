"""The layer list: the hardware-neutral description of a network that cost models read.

Trainable spaces turn an architecture into a list of :class:`Layer` (conv,
depthwise conv, linear, pooling, element-wise ops, and the transformer's
matmul, softmax, layer norm, GELU, tanh and embedding lookup); counting, lookup
tables, predictors and accelerator models all cost this list, so a new space
needs no change to any cost model. Shapes are for one sample unless ``batch``
says otherwise; 1-D layers use ``in_h = out_h = 1``.

Transformer ops describe channel-last tensors ``[positions, channels]``:
``in_channels`` is the last axis, ``in_h * in_w`` the positions (tokens).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from hwnas.core.errors import CostModelError

#: layer kinds a cost model may meet
LAYER_OPS = ("conv", "dwconv", "linear", "avgpool", "maxpool", "gap", "add", "relu", "hswish", "sigmoid", "bn", "mul",
             "matmul", "softmax", "layernorm", "gelu", "tanh", "embedding")
#: kinds whose work is a matrix product (what a systolic array runs)
GEMM_OPS = ("conv", "dwconv", "linear", "matmul")
#: passes over its elements an element-wise op makes, where more than one (softmax: max, exp and sum, divide;
#: layer norm: statistics, normalise); element-operation counts are output elements times this
ELEMENT_PASSES = {"softmax": 3, "layernorm": 2}
#: bit widths a layer's weights or activations may have (32 is float32, the default)
PRECISION_BITS = (4, 8, 16, 32)


@dataclass(frozen=True)
class Layer:
    """One layer, described by shape alone.

    ``conv``: ``groups`` may be >1 (``dwconv`` means groups == in_channels).
    ``linear``: ``in_channels`` -> ``out_channels`` features; ``in_h = in_w = 1`` unless applied per position.
    ``matmul``: ``groups`` independent products of activations (attention heads), each an
    ``(in_h * in_w) x K`` by ``K x N`` product with ``K = in_channels / groups``, ``N = out_channels / groups``
    (QK^T: K = head size, N = keys; attention x V: K = keys, N = head size); no weights.
    ``softmax``: over ``in_channels / groups`` entries, ``groups`` times per position.
    ``layernorm``: over ``in_channels`` per position, with a scale and a shift (``2 * in_channels`` parameters).
    ``gelu``, ``tanh``: element-wise. ``embedding``: a table of ``in_channels`` rows of ``out_channels`` looked up
    at each position (the input is one index per position).
    """

    op: str
    in_channels: int
    out_channels: int
    in_h: int = 1
    in_w: int = 1
    kernel: int = 1
    stride: int = 1
    groups: int = 1
    batch: int = 1
    name: str = ""
    bias: bool = False
    #: bit widths the layer runs at: weights and activations (32 = float32; see ``PRECISION_BITS``)
    w_bits: int = 32
    a_bits: int = 32
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        if self.op not in LAYER_OPS:
            raise CostModelError(f"layer {self.name or '?'}: op {self.op!r} unknown; known ops {list(LAYER_OPS)}")
        for f in ("in_channels", "out_channels", "in_h", "in_w", "kernel", "stride", "groups", "batch"):
            v = getattr(self, f)
            if not isinstance(v, int) or v < 1:
                raise CostModelError(f"layer {self.name or self.op}: {f}={v!r} must be a positive integer")
        for f in ("w_bits", "a_bits"):
            v = getattr(self, f)
            if v not in PRECISION_BITS:
                raise CostModelError(f"layer {self.name or self.op}: {f}={v!r} not allowed; allowed {list(PRECISION_BITS)}")
        if self.op in ("matmul", "softmax") and (self.in_channels % self.groups or self.out_channels % self.groups):
            raise CostModelError(f"layer {self.name or self.op}: channels {self.in_channels} -> {self.out_channels} "
                                 f"do not split into groups={self.groups}")

    # same-padding convolution, as all built-in spaces use
    @property
    def out_h(self) -> int:
        return -(-self.in_h // self.stride)

    @property
    def out_w(self) -> int:
        return -(-self.in_w // self.stride)

    @property
    def macs(self) -> int:
        """Multiply-accumulates for the whole batch."""
        if self.op in ("conv", "dwconv"):
            per_out = (self.in_channels // self.groups) * self.kernel * (self.kernel if self.in_h > 1 else 1)
            return self.batch * self.out_h * self.out_w * self.out_channels * per_out
        if self.op in ("linear", "matmul"):
            return self.batch * self.in_h * self.in_w * (self.in_channels // self.groups) * self.out_channels
        return 0

    @property
    def params(self) -> int:
        if self.op in ("conv", "dwconv"):
            k2 = self.kernel * (self.kernel if self.in_h > 1 else 1)
            return self.out_channels * (self.in_channels // self.groups) * k2 + (self.out_channels if self.bias else 0)
        if self.op == "linear":
            return self.in_channels * self.out_channels + (self.out_channels if self.bias else 0)
        if self.op in ("bn", "layernorm"):
            return 2 * self.in_channels
        if self.op == "embedding":
            return self.in_channels * self.out_channels
        return 0

    @property
    def input_elements(self) -> int:
        """Elements of the (first) input; an embedding reads one index per position."""
        if self.op == "embedding":
            return self.batch * self.in_h * self.in_w
        return self.batch * self.in_channels * self.in_h * self.in_w

    @property
    def rhs_elements(self) -> int:
        """Elements of a matmul's second operand (``groups`` matrices of K x N); 0 for other ops."""
        if self.op == "matmul":
            return self.batch * (self.in_channels // self.groups) * self.out_channels
        return 0

    @property
    def output_elements(self) -> int:
        if self.op == "gap":
            return self.batch * self.out_channels
        if self.op in ("linear", "matmul", "embedding"):
            return self.batch * self.in_h * self.in_w * self.out_channels
        return self.batch * self.out_channels * self.out_h * self.out_w

    def shape_key(self) -> tuple:
        """What determines this layer's cost (used to cache per-layer costs and build lookup tables)."""
        key = (self.op, self.in_channels, self.out_channels, self.in_h, self.in_w,
               self.kernel, self.stride, self.groups, self.batch)
        return key if (self.w_bits, self.a_bits) == (32, 32) else (*key, self.w_bits, self.a_bits)

    def to_dict(self) -> dict:
        d = asdict(self)
        if not d["extra"]:
            d.pop("extra")
        if (d["w_bits"], d["a_bits"]) == (32, 32):
            del d["w_bits"], d["a_bits"]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Layer:
        return cls(**d)


@dataclass
class Workload:
    """What a cost model may look at for one architecture.

    ``layers`` is always present; ``build`` returns a fresh ``torch.nn.Module``
    with the architecture's shape (weights irrelevant to cost) for models that
    measure; ``input_shape`` includes the batch dimension.
    """

    key: str
    layers: list[Layer]
    input_shape: tuple[int, ...]
    build: Callable[[], Any] | None = None
