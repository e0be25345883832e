"""The measuring device's fingerprint: what a latency measured here is valid for.

CPU model, cores, machine, OS and the ONNX Runtime and torch versions; a change
of any of them is another device, so cached measurements and the pinned
reference latency of one are never served as another's.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from pathlib import Path

import torch


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_fingerprint() -> dict:
    """What identifies the measuring device: CPU model, cores, machine, OS, ONNX Runtime and torch versions."""
    try:
        import onnxruntime as ort

        ort_version = ort.__version__
    except ImportError:  # pragma: no cover
        ort_version = None
    return {"cpu": _cpu_model(), "cores": os.cpu_count(), "machine": platform.machine(), "system": platform.system(),
            "onnxruntime": ort_version, "torch": torch.__version__.split("+")[0]}


def fingerprint_id(fp: dict) -> str:
    """A short stable id of a fingerprint (the key of a device's entry in a latency cache)."""
    return hashlib.sha256(json.dumps(fp, sort_keys=True).encode()).hexdigest()[:16]
