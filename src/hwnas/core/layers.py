"""The layer list: the hardware-neutral description of a network that cost models read.

Trainable spaces turn an architecture into a list of :class:`Layer` (conv,
depthwise conv, linear, pooling, element-wise ops); counting, lookup tables,
predictors and accelerator models all cost this list, so a new space needs
no change to any cost model. Shapes are for one sample unless ``batch`` says
otherwise; 1-D layers use ``in_h = out_h = 1``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from hwnas.core.errors import CostModelError

#: layer kinds a cost model may meet
LAYER_OPS = ("conv", "dwconv", "linear", "avgpool", "maxpool", "gap", "add", "relu", "hswish", "sigmoid", "bn", "mul")
#: kinds whose work is a matrix product (what a systolic array runs)
GEMM_OPS = ("conv", "dwconv", "linear")
#: bit widths a layer's weights or activations may have (32 is float32, the default)
PRECISION_BITS = (4, 8, 16, 32)


@dataclass(frozen=True)
class Layer:
    """One layer, described by shape alone.

    ``conv``: ``groups`` may be >1 (``dwconv`` means groups == in_channels).
    ``linear``: ``in_channels`` -> ``out_channels`` features; ``in_h = in_w = 1`` unless applied per position.
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
        if self.op == "linear":
            return self.batch * self.in_h * self.in_w * self.in_channels * self.out_channels
        return 0

    @property
    def params(self) -> int:
        if self.op in ("conv", "dwconv"):
            k2 = self.kernel * (self.kernel if self.in_h > 1 else 1)
            return self.out_channels * (self.in_channels // self.groups) * k2 + (self.out_channels if self.bias else 0)
        if self.op == "linear":
            return self.in_channels * self.out_channels + (self.out_channels if self.bias else 0)
        if self.op == "bn":
            return 2 * self.in_channels
        return 0

    @property
    def input_elements(self) -> int:
        return self.batch * self.in_channels * self.in_h * self.in_w

    @property
    def output_elements(self) -> int:
        if self.op == "gap":
            return self.batch * self.out_channels
        if self.op == "linear":
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
