"""ONNX export of plain PyTorch modules, checked against PyTorch in ONNX Runtime.

Uses the TorchScript-based exporter (``dynamo=False``), which needs no extra
package in torch 2.13; the batch axis is dynamic so an exported model can be
scored on a whole test split. :func:`export_onnx` reports the largest absolute
difference between ONNX Runtime and PyTorch outputs on random inputs. A module
whose input is token ids says so with an ``input_vocab`` attribute (the number of
ids): it is exported with an int64 input and checked on random ids below it.
"""

from __future__ import annotations

import io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from hwnas.core.errors import DataError

OPSET = 17


def example_input(module: nn.Module, input_shape: tuple[int, ...], seed: int | None = None) -> torch.Tensor:
    """An input for ``module``: zeros (``seed=None``) or random values; int64 token ids below the module's
    ``input_vocab`` when it has one, else float32 (standard normal)."""
    vocab = getattr(module, "input_vocab", None)
    if seed is None:
        return torch.zeros(input_shape, dtype=torch.float32 if vocab is None else torch.int64)
    gen = torch.Generator().manual_seed(seed)
    if vocab is None:
        return torch.randn(input_shape, generator=gen)
    return torch.randint(0, int(vocab), input_shape, generator=gen)


def session_feed(session, input_shape: tuple[int, ...], seed: int = 0) -> dict[str, np.ndarray]:
    """A feed for an ONNX Runtime session's one input: int64 zeros for an integer input, else standard normal."""
    inp = session.get_inputs()[0]
    if "int" in inp.type:
        return {inp.name: np.zeros(input_shape, dtype=np.int64)}
    return {inp.name: np.random.default_rng(seed).standard_normal(input_shape).astype(np.float32)}


def to_onnx_bytes(module: nn.Module, input_shape: tuple[int, ...], dynamic_batch: bool = True) -> bytes:
    """The module (in eval mode) as ONNX bytes; input ``input``, output ``output``."""
    was_training = module.training
    module.eval()
    buf = io.BytesIO()
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(module, (example_input(module, input_shape),), buf, input_names=["input"], output_names=["output"],
                              opset_version=OPSET, dynamo=False,
                              dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}} if dynamic_batch else None)
    finally:
        module.train(was_training)
    return buf.getvalue()


def ort_session(model: bytes | str | Path, threads: int = 1):
    """An ONNX Runtime CPU session with ``threads`` intra-op threads and all graph optimisations."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    source = model if isinstance(model, bytes) else str(model)
    if not isinstance(model, bytes) and not Path(model).is_file():
        raise DataError(f"ONNX model {model} does not exist")
    try:
        return ort.InferenceSession(source, sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime raises its own exception types
        raise DataError(f"ONNX Runtime cannot load {'model bytes' if isinstance(model, bytes) else model}: {e}") from None


def ort_predict(session, x: np.ndarray | torch.Tensor, batch_size: int = 512) -> np.ndarray:
    """Outputs of an ONNX Runtime session over ``x`` (batched)."""
    x = x.numpy() if torch.is_tensor(x) else np.asarray(x)
    x = x.astype(np.int64 if np.issubdtype(x.dtype, np.integer) else np.float32, copy=False)
    name = session.get_inputs()[0].name
    return np.concatenate([session.run(None, {name: x[i:i + batch_size]})[0] for i in range(0, len(x), batch_size)])


def onnx_accuracy(model: bytes | str | Path, x, y, threads: int = 1) -> float:
    """Top-1 accuracy in percent of an ONNX classifier on ``(x, y)`` in ONNX Runtime."""
    out = ort_predict(ort_session(model, threads), x)
    y = y.numpy() if torch.is_tensor(y) else np.asarray(y)
    return 100.0 * float((out.argmax(-1) == y).mean())


@dataclass
class ExportResult:
    path: Path
    max_abs_diff: float
    bytes: int


def export_onnx(module: nn.Module, input_shape: tuple[int, ...], path: str | Path, check_samples: int = 16,
                tolerance: float | None = 1e-4, seed: int = 0, metadata: dict[str, str] | None = None,
                doc_string: str = "") -> ExportResult:
    """Write ``module`` as ONNX to ``path`` and compare ORT with PyTorch on random inputs.

    ``metadata`` becomes the model's ``metadata_props`` (see :mod:`hwnas.export.metadata`) and
    ``doc_string`` its description. Raises DataError when the difference exceeds ``tolerance``
    (None: report only).
    """
    path = Path(path)
    data = to_onnx_bytes(module, input_shape)
    x = example_input(module, (check_samples, *input_shape[1:]), seed)
    with torch.no_grad():
        ref = module.eval()(x).numpy()
    got = ort_predict(ort_session(data), x)
    diff = float(np.abs(got - ref).max())
    if tolerance is not None and not diff <= tolerance:
        raise DataError(f"ONNX export of {path.name}: ONNX Runtime differs from PyTorch by {diff:.3g} > {tolerance:g}")
    if metadata or doc_string:
        from hwnas.export.metadata import attach_metadata

        data = attach_metadata(data, metadata or {}, doc_string)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return ExportResult(path, diff, len(data))
