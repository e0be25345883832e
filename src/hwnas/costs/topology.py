"""Reader and writer of SCALE-Sim's topology CSV format (conv and GEMM/MNK flavours).

Conv flavour: a header row, then one row per layer
``name, ifmap_h, ifmap_w, filter_h, filter_w, channels, num_filters, stride,``
(each row ends with a comma; an optional ``N:M`` sparsity column may follow the
stride). Output size uses no padding: ``ceil((ifmap - filter + stride) / stride)``,
so a "same"-padded layer is written with its padded input size. A layer whose name
contains ``DP`` is depthwise: SCALE-Sim runs it as ``channels`` one-channel layers.
GEMM flavour: header ``Layer, M, N, K,`` then ``name, m, n, k,`` rows.

Rows are kept as :class:`TopologyRow` (SCALE-Sim's own semantics, costed exactly by
``hwnas accel``); :meth:`TopologyRow.to_layer` and :func:`layers_to_rows` convert
to and from hwnas :class:`~hwnas.core.layers.Layer` lists. A transformer's layer
list becomes GEMM rows with :func:`layers_to_gemm_rows` (attention's QK^T and
attention x V: one row per head, as SCALE-Sim runs them) and is written with
:func:`write_gemm_topology`.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from hwnas.core.errors import CostModelError, DataError
from hwnas.core.layers import GEMM_OPS, Layer
from hwnas.costs.accelerator import gemm_of
from hwnas.costs.systolic import GemmShape

CONV_HEADER = ["Layer name", "IFMAP height", "IFMAP width", "Filter height", "Filter width",
               "Channels", "Num filter", "Strides"]
GEMM_HEADER = ["Layer", "M", "N", "K"]


@dataclass(frozen=True)
class TopologyRow:
    """One SCALE-Sim topology row (conv semantics; GEMM rows are stored the way SCALE-Sim maps them)."""

    name: str
    ifmap_h: int
    ifmap_w: int
    filter_h: int
    filter_w: int
    channels: int
    num_filters: int
    stride_h: int = 1
    stride_w: int = 1
    gemm_row: bool = False

    @property
    def depthwise(self) -> bool:
        return "DP" in self.name

    @property
    def ofmap_h(self) -> int:
        return -(-(self.ifmap_h - self.filter_h + self.stride_h) // self.stride_h)

    @property
    def ofmap_w(self) -> int:
        return -(-(self.ifmap_w - self.filter_w + self.stride_w) // self.stride_w)

    def gemm(self) -> tuple[GemmShape, int]:
        """The product SCALE-Sim runs for this row and how many times (channels, for depthwise rows)."""
        ch = 1 if self.depthwise else self.channels
        g = GemmShape(self.ofmap_h * self.ofmap_w, self.num_filters, self.filter_h * self.filter_w * ch)
        return g, (self.channels if self.depthwise else 1)

    def to_layer(self) -> Layer:
        """The hwnas Layer with the same matrix products (same-padded input sized to give the same output)."""
        if self.gemm_row:
            return Layer("linear", self.filter_w, self.num_filters, in_h=self.ifmap_h, name=self.name)
        if self.filter_h != self.filter_w or self.stride_h != self.stride_w:
            raise CostModelError(
                f"topology row {self.name}: filter {self.filter_h}x{self.filter_w} / stride "
                f"{self.stride_h}x{self.stride_w} is not square; hwnas Layers describe square kernels only "
                "(cost the row directly with `hwnas accel --topology`)"
            )
        s = self.stride_h

        def same_in(ifm: int, ofm: int) -> int:  # an input size whose ceil(in/s) is ofm
            return max(min(ifm, ofm * s), (ofm - 1) * s + 1)

        ih, iw = same_in(self.ifmap_h, self.ofmap_h), same_in(self.ifmap_w, self.ofmap_w)
        if self.depthwise:
            return Layer("dwconv", self.channels, self.channels * self.num_filters, in_h=ih, in_w=iw,
                         kernel=self.filter_h, stride=s, groups=self.channels, name=self.name)
        return Layer("conv", self.channels, self.num_filters, in_h=ih, in_w=iw, kernel=self.filter_h,
                     stride=s, name=self.name)


def _int(v: str, path: Path, lineno: int, col: str) -> int:
    try:
        x = int(v.strip())
    except ValueError:
        raise DataError(f"{path}:{lineno}: column {col!r} = {v.strip()!r} is not an integer") from None
    if x < 1:
        raise DataError(f"{path}:{lineno}: column {col!r} = {x} must be >= 1")
    return x


def read_topology(path: str | Path, gemm: bool | None = None) -> list[TopologyRow]:
    """Read a SCALE-Sim topology CSV; ``gemm=None`` detects the flavour from the header."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"topology file {path} not found")
    with path.open(newline="") as f:
        table = [r for r in csv.reader(f) if any(c.strip() for c in r)]
    if not table:
        raise DataError(f"{path}: empty topology file")
    header = [c.strip() for c in table[0] if c.strip()]
    if gemm is None:
        gemm = [h.upper() for h in header[1:4]] == ["M", "N", "K"]
    cols = GEMM_HEADER if gemm else CONV_HEADER
    rows: list[TopologyRow] = []
    for lineno, raw in enumerate(table[1:], start=2):
        cells = list(raw)
        while cells and not cells[-1].strip():
            cells.pop()
        need = len(cols)
        if len(cells) < need:
            raise DataError(f"{path}:{lineno}: expected {need} columns {cols}, got {len(cells)}")
        name = cells[0].strip()
        if not name:
            raise DataError(f"{path}:{lineno}: empty layer name")
        v = [_int(cells[i], path, lineno, cols[i]) for i in range(1, need)]
        if gemm:
            m, n, k = v
            row = TopologyRow(name, m, k, 1, k, 1, n, 1, 1, gemm_row=True)
        else:
            ih, iw, fh, fw, ch, nf, st = v
            row = TopologyRow(name, ih, iw, fh, fw, ch, nf, st, st)
            if fh > ih or fw > iw:
                raise DataError(f"{path}:{lineno}: layer {name}: filter {fh}x{fw} larger than ifmap {ih}x{iw}")
        rows.append(row)
    if not rows:
        raise DataError(f"{path}: no layer rows after the header")
    return rows


def layers_to_rows(layers: Iterable[Layer]) -> tuple[list[TopologyRow], list[str]]:
    """Conv-flavour rows for the conv/GEMM layers; returns (rows, names of layers left out).

    SCALE-Sim's format holds conv and GEMM layers only, so pooling and element-wise
    layers are left out (and named). Same padding is written as the padded input size.
    """
    rows: list[TopologyRow] = []
    skipped: list[str] = []
    for i, layer in enumerate(layers):
        name = layer.name or f"{layer.op}{i}"
        if layer.op not in ("conv", "dwconv", "linear", "matmul"):
            skipped.append(name)
            continue
        if layer.batch != 1:
            raise CostModelError(f"layer {name}: batch={layer.batch}; SCALE-Sim topologies describe batch 1")
        if layer.op == "linear":
            rows.append(TopologyRow(name, layer.in_h * layer.in_w, 1, 1, 1, layer.in_channels, layer.out_channels))
            continue
        if layer.op == "matmul":
            g = layer.groups
            rows.extend(TopologyRow(f"{name}_h{h}", layer.in_h * layer.in_w, 1, 1, 1, layer.in_channels // g,
                                    layer.out_channels // g) for h in range(g))
            continue
        dw = layer.groups > 1
        if dw and layer.groups != layer.in_channels:
            raise CostModelError(f"layer {name}: grouped conv (groups={layer.groups}) has no SCALE-Sim form; "
                                 "only depthwise (groups == in_channels) does")
        kh = layer.kernel if layer.in_h > 1 else 1
        ih = (layer.out_h - 1) * layer.stride + kh
        iw = (layer.out_w - 1) * layer.stride + layer.kernel
        if dw:
            rname = name if "DP" in name else f"{name}_DP"
            rows.append(TopologyRow(rname, ih, iw, kh, layer.kernel, layer.in_channels,
                                    layer.out_channels // layer.in_channels, layer.stride, layer.stride))
        else:
            if "DP" in name:
                raise CostModelError(f"layer {name}: a non-depthwise layer's name may not contain 'DP' "
                                     "(SCALE-Sim reads that as depthwise)")
            rows.append(TopologyRow(name, ih, iw, kh, layer.kernel, layer.in_channels, layer.out_channels,
                                    layer.stride, layer.stride))
    return rows, skipped


def write_topology(rows: Iterable[TopologyRow], path: str | Path) -> Path:
    """Write conv-flavour rows the way SCALE-Sim reads them (trailing comma on every row)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [", ".join(CONV_HEADER) + ","]
    for r in rows:
        if r.stride_h != r.stride_w:
            raise CostModelError(f"topology row {r.name}: SCALE-Sim's conv format has one stride column")
        lines.append(f"{r.name}, {r.ifmap_h}, {r.ifmap_w}, {r.filter_h}, {r.filter_w}, "
                     f"{r.channels}, {r.num_filters}, {r.stride_h},")
    path.write_text("\n".join(lines) + "\n")
    return path


def layers_to_gemm_rows(layers: Iterable[Layer]) -> tuple[list[TopologyRow], list[int], list[str]]:
    """GEMM-flavour rows for every matrix product of a layer list (conv, linear, matmul).

    Returns (rows, the index of the layer each row comes from, names of layers left out).
    A product repeated ``groups`` times (attention heads, depthwise channels) is one row per
    repeat, named ``{layer}_h{i}``, the way SCALE-Sim runs them.
    """
    rows: list[TopologyRow] = []
    owners: list[int] = []
    skipped: list[str] = []
    for i, layer in enumerate(layers):
        name = layer.name or f"{layer.op}{i}"
        if layer.op not in GEMM_OPS:
            skipped.append(name)
            continue
        if layer.batch != 1:
            raise CostModelError(f"layer {name}: batch={layer.batch}; SCALE-Sim topologies describe batch 1")
        g, reps = gemm_of(layer)
        for h in range(reps):
            rows.append(TopologyRow(name if reps == 1 else f"{name}_h{h}", g.m, g.k, 1, g.k, 1, g.n, gemm_row=True))
            owners.append(i)
    return rows, owners, skipped


def write_gemm_topology(rows: Iterable[TopologyRow], path: str | Path) -> Path:
    """Write GEMM-flavour rows (``Layer, M, N, K,``) the way SCALE-Sim reads them with ``input_type_gemm``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [", ".join(GEMM_HEADER) + ","]
    for r in rows:
        if not r.gemm_row:
            raise CostModelError(f"topology row {r.name}: a conv-flavour row has no GEMM form here; "
                                 "use write_topology")
        g, _ = r.gemm()
        lines.append(f"{r.name}, {g.m}, {g.n}, {g.k},")
    path.write_text("\n".join(lines) + "\n")
    return path
