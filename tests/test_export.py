"""ONNX export: ONNX Runtime reproduces PyTorch outputs and accuracy."""

import numpy as np
import pytest
import torch

from hwnas.core.errors import DataError
from hwnas.export.onnx import export_onnx, onnx_accuracy, ort_predict, ort_session
from hwnas.spaces.mobilenet import MobileNetSpace
from hwnas.supernet.calibrate import accuracy

torch.set_num_threads(1)


def test_exported_subnet_matches_pytorch(tmp_path):
    space = MobileNetSpace(stem=4, stages=((4, 1, 2), (6, 2, 2)), head=8)
    module = space.build(space.largest())
    res = export_onnx(module, (1, 1, 8, 8), tmp_path / "m.onnx")
    assert res.path.exists() and res.max_abs_diff < 1e-4
    x = torch.randn(37, 1, 8, 8)
    got = ort_predict(ort_session(res.path), x, batch_size=10)
    assert np.allclose(got, module(x).detach().numpy(), atol=1e-4)
    y = torch.randint(0, 10, (37,))
    assert onnx_accuracy(res.path, x, y) == pytest.approx(accuracy(module, x, y), abs=100 / 37 + 1e-9)


def test_bad_onnx_file(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"garbage")
    with pytest.raises(DataError, match="bad.onnx"):
        ort_session(bad)
