"""Compression and deployment: ONNX export (checked in ONNX Runtime)."""

from hwnas.compress.onnx_export import (
    ExportResult,
    export_onnx,
    onnx_accuracy,
    ort_predict,
    ort_session,
    to_onnx_bytes,
)

__all__ = ["ExportResult", "export_onnx", "onnx_accuracy", "ort_predict", "ort_session", "to_onnx_bytes"]
