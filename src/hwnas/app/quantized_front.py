"""The quantized front a train-once job exports: never slower than fp32, each member's deployable model.

Static int8 in ONNX Runtime runs faster than fp32 only for large enough layers; on small ones (and
around ops it cannot quantize, such as hard-swish) the Quantize/Dequantize pairs and layout changes cost
more than the int8 kernels save. The search measures every policy's own model, so it usually avoids such
members, but a front chosen on accuracy and size can keep one. A user deploying "the int8 model" of a
front member expects it to be at least as fast as the fp32 model of the same architecture, so
:func:`never_slower` replaces a member whose quantized model is slower (on the same timer) by the fp32
policy of its architecture, evaluated by the same evaluator, and notes why.
"""

from __future__ import annotations

from hwnas.compress.policy import policy_text
from hwnas.core.trial import COMPLETE, Trial


def never_slower(front: list, space, evaluator, study=None, console=None) -> list:
    """``front`` with each member whose quantized model is slower than its architecture's fp32 model replaced by
    that fp32 model (its metrics from ``study``'s stored trials or a fresh evaluation); members keep their order,
    a replaced member carries ``note``."""
    from hwnas.core.errors import EvaluationFailed

    out, seen = [], set()
    stored = {t.key: t for t in (study.trials if study is not None else []) if t.ok}
    for t in front:
        member = t
        if not space.is_float(t.arch):
            fp32_arch = space.with_policy(space.base_arch(t.arch), "fp32")
            key = space.key(fp32_arch)
            fp32 = stored.get(key)
            if fp32 is None:
                try:
                    fp32 = Trial(-1, key, fp32_arch, COMPLETE, evaluator.evaluate(fp32_arch))
                except EvaluationFailed:
                    fp32 = None
            q_ms, f_ms = _latency(t, space), _latency(fp32, space) if fp32 is not None else None
            if fp32 is not None and q_ms > f_ms:
                note = (f"policy {policy_text(space.policy(t.arch))} ran {q_ms:.4f} ms, slower than this "
                        f"architecture in fp32 ({f_ms:.4f} ms): exported in fp32")
                member = Trial(fp32.number, fp32.key, fp32.arch, COMPLETE, dict(fp32.metrics))
                member.note = note
                if console is not None:
                    console.print(f"export: {note}")
        if member.key not in seen:
            seen.add(member.key)
            out.append(member)
    return out


def _latency(trial, space) -> float:
    """The member's measured latency: its ``latency_ms`` when the search measured it, else timed now."""
    if "latency_ms" in trial.metrics:
        return float(trial.metrics["latency_ms"])
    from hwnas.costs.measure import default_cache_path, measure_latency
    from hwnas.costs.measure.cache import LatencyCache

    return measure_latency(space.deployable(trial.arch), (1, *space.input_shape), repeats=50,
                           cache=LatencyCache(default_cache_path())).latency_ms


def policy_columns(space, trial) -> dict:
    """``bits`` (the policy), ``size_kb`` (weights at their bit widths) and ``note`` of a front member."""
    from hwnas.costs.size import weight_bytes

    return {"bits": policy_text(space.policy(trial.arch)),
            "size_kb": round(weight_bytes(space.layers(trial.arch)) / 1024.0, 3),
            "note": getattr(trial, "note", "")}


def write_deployable(model: bytes, module, path, props: dict, x_test, y_test, doc: str) -> dict:
    """Write the deployable ``model`` with its metadata to ``path``; return its row's ``onnx_accuracy`` (test split,
    loaded fresh from the file), ``onnx_kb`` and ``max_abs_diff`` (against the fp32 ``module``: quantization error,
    not an export error, so it is reported, not checked)."""
    import os

    import numpy as np
    import torch

    from hwnas.export.metadata import attach_metadata
    from hwnas.export.onnx import onnx_accuracy, ort_predict, ort_session

    data = attach_metadata(model, props, doc)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    x = torch.randn((16, *x_test.shape[1:]), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ref = module.eval()(x).numpy()
    diff = float(np.abs(ort_predict(ort_session(path), x) - ref).max())
    return {"onnx_accuracy": round(onnx_accuracy(path, x_test, y_test), 4), "onnx_kb": round(len(data) / 1024.0, 3),
            "max_abs_diff": diff}
