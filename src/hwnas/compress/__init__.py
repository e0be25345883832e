"""Compression and deployment: ONNX export (checked in ONNX Runtime)."""

from hwnas.export.onnx import (
    ExportResult,
    export_onnx,
    onnx_accuracy,
    ort_predict,
    ort_session,
    to_onnx_bytes,
)

__all__ = ["ExportResult", "export_onnx", "onnx_accuracy", "ort_predict", "ort_session", "to_onnx_bytes"]
