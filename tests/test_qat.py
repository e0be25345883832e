"""Quantization-aware fine-tuning: BN folding, LSQ fake quantization, QDQ export matched in ONNX Runtime,
refusals of bad policies and calibration sets, the fake-quantized evaluator of the accelerator target."""

from dataclasses import replace

import numpy as np
import onnx
import pytest
import torch
from torch import nn

from hwnas.compress import COMPRESSORS
from hwnas.compress.fakequant import QuantConv, QuantLinear
from hwnas.compress.finetune import finetune
from hwnas.compress.qat import (
    export_qdq,
    fold_batchnorm,
    policy_from_layers,
    quantize_module,
    top1,
    uniform_policy,
)
from hwnas.core.errors import ConfigError, DataError
from hwnas.data import get_dataset
from hwnas.export.onnx import onnx_accuracy
from hwnas.spaces.mobilenet import MobileNetSpace
from hwnas.spaces.signal1d import Signal1DSpace


@pytest.fixture(scope="module")
def digits1d():
    """digits as 1 x 64 signals, and a small 1-D conv net trained on them."""
    d = get_dataset("digits")
    d = replace(d, x_train=d.x_train.reshape(-1, 1, 64), x_val=d.x_val.reshape(-1, 1, 64),
                x_test=d.x_test.reshape(-1, 1, 64))
    space = Signal1DSpace(input_shape=(1, 64), max_conv=2, conv_channels=(16,), conv_kernels=(3,), max_fc=1,
                          fc_widths=(64,))
    torch.manual_seed(0)
    model = finetune(space.build(space.largest()), d, epochs=8, lr=3e-3)
    return d, space, model


def _randomised_bn(module):
    gen = torch.Generator().manual_seed(1)
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=gen) * 0.1)
            m.running_var.copy_(torch.rand(n, generator=gen) + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=gen) + 0.5)
            m.bias.data.copy_(torch.randn(n, generator=gen) * 0.1)
    return module


def test_batch_norm_is_folded_into_the_conv_before_it():
    space = MobileNetSpace()
    module = _randomised_bn(space.build(space.largest()))
    folded = fold_batchnorm(module)
    x = torch.randn(3, *space.input_shape)
    with torch.no_grad():
        assert torch.allclose(folded(x), module(x), atol=1e-5)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    assert sum(isinstance(m, nn.BatchNorm2d) for m in module.modules()) > 10  # the input is left alone


def test_fake_quantization_error_falls_with_the_bit_width(digits1d):
    data, space, model = digits1d
    x = data.x_val[:64]
    with torch.no_grad():
        ref = model(x)
        err = {b: float((quantize_module(model, uniform_policy(model, b), data.x_train[:128])(x) - ref).abs().mean())
               for b in (4, 8, 16)}
    assert err[16] < err[8] < err[4]
    q = quantize_module(model, uniform_policy(model, 8), data.x_train[:128])
    convs = [m for m in q.modules() if isinstance(m, QuantConv)]
    assert [m.weight_q.scale.numel() for m in convs] == [m.conv.out_channels for m in convs]  # per channel
    assert all(m.input_q.scale.numel() == 1 for m in convs)  # per tensor
    fcs = [m for m in q.modules() if isinstance(m, QuantLinear)]
    assert not fcs[0].input_q.signed  # after a ReLU: unsigned
    assert convs[0].input_q.signed is False  # digits pixels are non-negative too


def test_scales_and_weights_learn_through_the_straight_through_estimator(digits1d):
    data, _, model = digits1d
    q = quantize_module(model, uniform_policy(model, 4), data.x_train[:128]).train()
    nn.functional.cross_entropy(q(data.x_train[:64]), data.y_train[:64]).backward()
    conv = next(m for m in q.modules() if isinstance(m, QuantConv))
    assert conv.weight_q.scale.grad is not None and conv.weight_q.scale.grad.abs().sum() > 0
    assert conv.input_q.scale.grad.abs().sum() > 0 and conv.conv.weight.grad.abs().sum() > 0


def test_qat_recovers_low_bit_accuracy(digits1d):
    data, _, model = digits1d
    x, y = data.split("test")
    float_acc = top1(model, x, y)
    ptq = quantize_module(model, uniform_policy(model, 4), data.x_train[:256])
    out = COMPRESSORS.create("qat", bits=4, epochs=2, lr=1e-3, split="test").apply(model, data)

    def train_loss(m):
        with torch.no_grad():
            return float(nn.functional.cross_entropy(m(data.x_train), data.y_train))

    assert train_loss(out.model) < 0.8 * train_loss(ptq)  # fine-tuning fits the quantized grid
    assert out.info["accuracy_fakequant"] > float_acc - 3.0
    assert all(v == [4, 4] for v in out.info["bits"].values()) and len(out.info["bits"]) == 4


@pytest.mark.parametrize("bits", [8, 4])
def test_exported_qdq_model_matches_the_fake_quantized_one_in_onnxruntime(digits1d, tmp_path, bits):
    data, space, model = digits1d
    q = quantize_module(model, uniform_policy(model, bits), data.x_train[:256])
    path = export_qdq(q, (1, *space.input_shape), tmp_path / "q.onnx")
    ops = [n.op_type for n in onnx.load(str(path)).graph.node]
    if bits == 8:
        assert ops.count("QuantizeLinear") >= 6 and ops.count("DequantizeLinear") >= 6
    else:  # no int4 kernel in ONNX Runtime: the same arithmetic in float
        assert "QuantizeLinear" not in ops and "Round" in ops
    x, y = data.split("test")
    assert abs(onnx_accuracy(str(path), x, y) - top1(q, x, y)) <= 0.6


def test_onnxruntime_fuses_the_int8_layers(digits1d, tmp_path):
    import onnxruntime as ort

    data, space, model = digits1d
    q = quantize_module(model, uniform_policy(model, 8), data.x_train[:256])
    path = export_qdq(q, (1, *space.input_shape), tmp_path / "q.onnx")
    so = ort.SessionOptions()
    so.optimized_model_filepath = str(tmp_path / "opt.onnx")
    ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    ops = [n.op_type for n in onnx.load(str(tmp_path / "opt.onnx")).graph.node]
    assert "QLinearConv" in ops


def test_bad_policies_and_calibration_sets_are_refused(digits1d):
    data, _, model = digits1d
    with pytest.raises(ConfigError, match=r"layer 'conv9' is not a conv or linear layer.*\['0', '3', '7', '9'\]"):
        quantize_module(model, {"conv9": 8}, data.x_train[:8])
    with pytest.raises(ConfigError, match=r"layer '0' bits 3 not allowed.*\[4, 8, 16, 32\]"):
        quantize_module(model, {"0": 3}, data.x_train[:8])
    with pytest.raises(ConfigError, match="layer '0'.*both weights and activations or neither"):
        quantize_module(model, {"0": (8, 32)}, data.x_train[:8])
    with pytest.raises(DataError, match="calibration set is empty"):
        quantize_module(model, {"0": 8}, data.x_train[:0])
    with pytest.raises(DataError, match=r"calibration inputs of shape \(4, 1, 32\) do not fit"):
        quantize_module(model, {"0": 8}, torch.zeros(4, 1, 32))
    with pytest.raises(ConfigError, match="bits=5 not allowed"):
        COMPRESSORS.create("qat", bits=5)


def test_the_policy_is_read_off_a_quantized_layer_list():
    from hwnas.spaces.quantized import QuantizedSpace

    base = MobileNetSpace()
    space = QuantizedSpace(base, ("int4", "int8", "int16"), target="accelerator")
    arch = space.with_policy(base.smallest(), "int8")
    arch["bits.stem"], arch["bits.head"] = "int4", "int16"
    policy = policy_from_layers(space.layers(arch))
    module = space.build(arch)
    assert set(policy) == {n for n, m in module.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))}
    assert policy["0"] == (4, 4) and set(policy.values()) == {(4, 4), (8, 8), (16, 16)}
    quantize_module(module, policy, torch.rand(4, *base.input_shape))  # every named layer exists


def test_fake_quantized_evaluator_for_the_accelerator_target():
    from hwnas.app.components import with_ptq
    from hwnas.app.config import parse_config
    from hwnas.evaluators.fakequant import FakeQuantEvaluator
    from hwnas.evaluators.supernet import SupernetEvaluator
    from hwnas.spaces.quantized import QuantizedSpace

    data = get_dataset("digits")
    base = MobileNetSpace()
    space = QuantizedSpace(base, ("int4", "int8", "int16"), target="accelerator")
    torch.manual_seed(0)
    inner = SupernetEvaluator(base.build_supernet(), data, calib_samples=64)
    cfg = parse_config({"supernet": {}, "compress": {"quantize": {
        "target": "accelerator", "precisions": ["int4", "int8", "int16"], "calibration": {"samples": 64}}}}, "c.yaml")
    ev = with_ptq(cfg, space, inner)  # the config's accelerator policy is scored by fake quantization
    assert isinstance(ev, FakeQuantEvaluator) and len(ev.calib) == 64
    ev.bind(space)
    arch = space.with_policy(base.smallest(), "int16")
    out = ev.evaluate(arch)
    assert out["float_accuracy"] == pytest.approx(inner.evaluate(base.smallest())["accuracy"])
    assert abs(out["accuracy"] - out["float_accuracy"]) < 3.0  # 16 bits: close to float
    assert set(out) == set(ev.metrics) and np.isfinite(list(out.values())).all()
    assert ev.describe()["type"] == "fakequant"


def test_fake_quantized_w4a8_lies_between_int4_and_int8():
    from hwnas.evaluators.fakequant import FakeQuantEvaluator
    from hwnas.evaluators.supernet import SupernetEvaluator
    from hwnas.spaces.quantized import QuantizedSpace

    data = get_dataset("digits")
    base = MobileNetSpace()
    space = QuantizedSpace(base, ("int4", "w4a8", "int8"), target="accelerator")
    torch.manual_seed(0)
    ev = FakeQuantEvaluator(SupernetEvaluator(base.build_supernet(), data, calib_samples=64), space, calib_samples=64)
    ev.bind(space)
    arch = base.smallest()
    q = {p: ev.extract(space.with_policy(arch, p)) for p in space.precisions}
    widths = {(m.weight_q.bits, m.input_q.bits) for m in q["w4a8"].modules() if isinstance(m, (QuantConv, QuantLinear))}
    assert widths == {(4, 8)}
    x = data.x_val[:256]
    with torch.no_grad():
        ref = fold_batchnorm(ev.inner.extract(arch))(x)
        err = {p: float(((m(x) - ref) ** 2).mean()) for p, m in q.items()}
    assert err["int8"] < err["w4a8"] < err["int4"]  # 8-bit activations keep more of the float outputs
    out = ev.evaluate(space.with_policy(arch, "w4a8"))
    assert set(out) == set(ev.metrics) and np.isfinite(list(out.values())).all()


def test_qat_epochs_fine_tune_each_evaluation_on_the_accelerator_target_only():
    from hwnas.app.components import with_ptq
    from hwnas.app.config import parse_config
    from hwnas.core.errors import ConfigError
    from hwnas.evaluators.supernet import SupernetEvaluator
    from hwnas.spaces.quantized import QuantizedSpace

    data = get_dataset("digits")
    base = MobileNetSpace()
    space = QuantizedSpace(base, ("int4", "int8"), target="accelerator")
    torch.manual_seed(0)
    inner = SupernetEvaluator(base.build_supernet(), data, calib_samples=64)
    quantize = {"target": "accelerator", "precisions": ["int4", "int8"], "calibration": {"samples": 64}}
    plain = with_ptq(parse_config({"supernet": {}, "compress": {"quantize": quantize}}, "c.yaml"), space, inner)
    tuned = with_ptq(parse_config({"supernet": {}, "compress": {"quantize": {**quantize, "qat_epochs": 1}}},
                                  "c.yaml"), space, inner)
    assert plain.epochs == 0 and tuned.epochs == 1
    plain.bind(space)
    tuned.bind(space)
    arch = space.with_policy(base.largest(), "int8")
    # the supernet is untrained: one epoch of quantization-aware training lifts the model well above chance
    before, after = plain.evaluate(arch)["accuracy"], tuned.evaluate(arch)["accuracy"]
    assert after > before + 15
    with pytest.raises(ConfigError, match=r"qat_epochs.*target 'accelerator'.*'onnxruntime'"):
        parse_config({"supernet": {}, "compress": {"quantize": {"qat_epochs": 2}}}, "c.yaml")
    with pytest.raises(ConfigError, match="qat_epochs"):
        parse_config({"supernet": {}, "compress": {"quantize": {**quantize, "qat_epochs": -1}}}, "c.yaml")
