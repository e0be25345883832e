"""Model size from the real bit widths: the ``size`` cost model.

Each convolution and linear layer stores its weights at ``Layer.w_bits`` bits and one 32-bit bias per
output channel (an int32 bias in a quantized model; batch norm is folded into the convolution before it at
export, which gives that convolution its bias and adds no bytes of its own). ``size_kb`` is their sum in
kB: for a policy with int8 blocks it is the size the quantized model's weights take.
"""

from __future__ import annotations

from hwnas.core.errors import CostModelError
from hwnas.core.layers import GEMM_OPS, Layer, Workload
from hwnas.costs.base import CostModel


def weight_bytes(layers: list[Layer]) -> float:
    """Bytes of the weights and biases of ``layers`` at their bit widths (batch norm folded)."""
    total = 0.0
    for i, layer in enumerate(layers):
        if layer.op not in GEMM_OPS:
            continue
        k2 = layer.kernel * (layer.kernel if layer.in_h > 1 else 1) if layer.op != "linear" else 1
        weights = layer.out_channels * (layer.in_channels // layer.groups) * k2
        folded_bn = i + 1 < len(layers) and layers[i + 1].op == "bn"
        total += weights * layer.w_bits / 8 + (4 * layer.out_channels if layer.bias or folded_bn else 0)
    return total


class SizeModel(CostModel):
    """``size_kb``: weights at their bit widths plus 32-bit biases (see the module docstring)."""

    name = "size"
    units = {"size_kb": "kB"}

    def cost(self, workload: Workload) -> dict[str, float]:
        if not workload.layers:
            raise CostModelError("cost model 'size': the workload has no layers")
        return {"size_kb": weight_bytes(workload.layers) / 1024.0}

    def describe(self) -> dict:
        return {"cost_model": self.name}
