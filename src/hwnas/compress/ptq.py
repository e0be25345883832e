"""Post-training static quantization of an ONNX model with ONNX Runtime's own tools.

:func:`quantize_onnx` runs ``onnxruntime.quantization``: ``quant_pre_process`` (shape inference and graph
clean-up), then ``quantize_static`` in the QDQ format, S8S8 (signed int8 activations and weights),
per-channel weights, calibrated with MinMax, Percentile or Entropy on the given inputs. The parts of the
network its policy keeps in fp32 are passed as ``nodes_to_exclude``. ONNX Runtime's CPU provider fuses
the QDQ pattern into QLinearConv / QGemm kernels where it can.

A node belongs to a top-level child of the exported ``nn.Sequential`` (the first scope of its name, e.g.
``/3/body/body.0/Conv`` is in child ``3``); spaces name the children of each block
(``block_children``), so a policy over blocks becomes a set of excluded nodes.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hwnas.core.errors import ConfigError, DataError

#: calibration methods -> onnxruntime.quantization.CalibrationMethod member names
CALIBRATION_METHODS = {"minmax": "MinMax", "percentile": "Percentile", "entropy": "Entropy"}


@dataclass(frozen=True)
class Calibration:
    """How activation ranges are calibrated: ``method`` (minmax | percentile | entropy) on ``samples`` inputs."""

    method: str = "minmax"
    samples: int = 256
    batch_size: int = 64

    def __post_init__(self) -> None:
        if self.method not in CALIBRATION_METHODS:
            raise ConfigError(f"compress.quantize.calibration.method: {self.method!r} unknown; "
                              f"allowed {sorted(CALIBRATION_METHODS)}")
        if self.samples < 1 or self.batch_size < 1:
            raise ConfigError(f"compress.quantize.calibration.samples: {self.samples} must be >= 1")


def calibration_inputs(x, input_shape: tuple[int, ...], samples: int, split: str = "train",
                       seed: int = 0) -> np.ndarray:
    """``samples`` inputs drawn without replacement (fixed ``seed``) from ``x``, the ``split`` split, as float32.

    An empty split or one whose samples are not of ``input_shape`` (no batch axis) is refused naming the
    split and the shapes.
    """
    arr = x.numpy() if hasattr(x, "numpy") else np.asarray(x)
    shape = tuple(int(v) for v in input_shape)
    if arr.ndim == 0 or len(arr) == 0:
        raise DataError(f"calibration set: the {split!r} split is empty (shape {tuple(arr.shape)}); "
                        f"quantization calibrates on samples of shape {list(shape)}")
    if tuple(arr.shape[1:]) != shape:
        raise DataError(f"calibration set: the {split!r} split holds samples of shape {list(arr.shape[1:])}, "
                        f"the model takes {list(shape)}")
    order = np.random.default_rng(seed).permutation(len(arr))[:samples]
    return np.ascontiguousarray(arr[np.sort(order)], dtype=np.float32)


def node_child(node_name: str) -> str | None:
    """The top-level child of the exported module a node comes from (``/3/body/body.0/Conv`` -> ``3``)."""
    parts = node_name.split("/")
    return parts[1] if len(parts) > 2 and parts[0] == "" else None


class _Reader:
    """An ``onnxruntime.quantization.CalibrationDataReader`` over a float32 array, in batches."""

    def __init__(self, name: str, x: np.ndarray, batch_size: int):
        self.batches = [{name: x[i:i + batch_size]} for i in range(0, len(x), batch_size)]
        self.i = 0

    def get_next(self):
        if self.i >= len(self.batches):
            return None
        self.i += 1
        return self.batches[self.i - 1]

    def rewind(self) -> None:
        self.i = 0


def quantize_onnx(model: bytes, calib: np.ndarray, fp32_children: set[str] | frozenset[str] = frozenset(),
                  calibration: Calibration = Calibration(), per_channel: bool = True) -> bytes:
    """``model`` (fp32 ONNX bytes) statically quantized to int8 QDQ, except the nodes of ``fp32_children``.

    ``calib`` are the calibration inputs (already drawn, see :func:`calibration_inputs`). Raises DataError
    when ONNX Runtime's quantizer fails, with its message.
    """
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if len(calib) == 0:
        raise DataError("calibration set: no samples to calibrate on")
    with tempfile.TemporaryDirectory(prefix="hwnas-ptq-") as tmp:
        src, pre, dst = Path(tmp, "fp32.onnx"), Path(tmp, "pre.onnx"), Path(tmp, "int8.onnx")
        src.write_bytes(model)
        try:
            quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
            graph = onnx.load(str(pre)).graph
            exclude = [n.name for n in graph.node if node_child(n.name) in fp32_children]
            quantize_static(str(pre), str(dst), _Reader(graph.input[0].name, calib, calibration.batch_size),
                            quant_format=QuantFormat.QDQ, activation_type=QuantType.QInt8,
                            weight_type=QuantType.QInt8, per_channel=per_channel, nodes_to_exclude=exclude,
                            calibrate_method=getattr(CalibrationMethod, CALIBRATION_METHODS[calibration.method]),
                            extra_options={"ActivationSymmetric": False, "WeightSymmetric": True})
        except Exception as e:  # onnxruntime.quantization raises plain exceptions of many types
            raise DataError(f"ONNX Runtime could not quantize the model: {type(e).__name__}: {e}") from None
        return dst.read_bytes()
