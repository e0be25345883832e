"""Elastic layers compute exactly what a plain layer with the sliced weights computes."""

import torch
import torch.nn.functional as F

from hwnas.core.layers import Layer
from hwnas.spaces.elastic import ElasticBatchNorm, ElasticConv, ElasticLinear
from hwnas.spaces.trace import trace_layers
from hwnas.supernet.calibrate import recalibrate_bn

torch.set_num_threads(1)  # tiny models: one thread is fastest and kind to a shared machine


def test_conv_kernel_and_channel_slicing_match_plain_conv():
    torch.manual_seed(0)
    conv = ElasticConv(2, 6, 10, 7)
    x = torch.randn(2, 4, 9, 9)
    y = conv(x, out_channels=5, kernel=3, stride=2)
    w = conv.weight[:5, :4, 2:5, 2:5]
    assert torch.allclose(y, F.conv2d(x, w, None, 2, 1))
    plain = conv.export(4, 5, 3, 2)
    assert torch.allclose(plain(x), y, atol=1e-6)
    assert plain.weight.shape == (5, 4, 3, 3)


def test_depthwise_and_1d():
    torch.manual_seed(0)
    dw = ElasticConv(2, 12, 12, 5, depthwise=True)
    x = torch.randn(3, 7, 6, 6)
    assert torch.allclose(dw(x, kernel=3), dw.export(7, kernel=3)(x), atol=1e-6)
    c1 = ElasticConv(1, 2, 8, 7)
    s = torch.randn(2, 2, 40)
    assert c1(s, 4, 5, 2).shape == (2, 4, 20)
    assert torch.allclose(c1(s, 4, 5, 2), c1.export(2, 4, 5, 2)(s), atol=1e-6)


def test_linear_slicing():
    lin = ElasticLinear(16, 8)
    x = torch.randn(4, 10)
    assert torch.allclose(lin(x, 3), x @ lin.weight[:3, :10].T + lin.bias[:3])
    assert torch.allclose(lin.export(10, 3)(x), lin(x, 3), atol=1e-6)


class _Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.bn = ElasticBatchNorm(2, 8)

    def forward(self, x, arch):
        return self.bn(x[:, : arch["c"]])


def test_bn_recalibration_is_exact_mean_of_batch_statistics():
    net = _Net()
    x = torch.randn(64, 8, 3, 3) * 3 + 1
    recalibrate_bn(net, {"c": 5}, x, batch_size=16)
    batches = x[:, :5].split(16)
    mean = torch.stack([b.mean((0, 2, 3)) for b in batches]).mean(0)
    var = torch.stack([b.var((0, 2, 3), unbiased=True) for b in batches]).mean(0)
    assert torch.allclose(net.bn.running_mean[:5], mean, atol=1e-5)
    assert torch.allclose(net.bn.running_var[:5], var, atol=1e-4)
    assert torch.all(net.bn.running_mean[5:] == 0)  # untouched channels keep their values
    assert not net.bn.recalibrating


def test_trace_layers_records_shapes_and_refuses_valid_padding():
    m = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, 2, 1), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
                            torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(4, 3))
    layers = trace_layers(m, (1, 1, 8, 8))
    assert [lay.op for lay in layers] == ["conv", "bn", "relu", "gap", "linear"]
    assert layers[0] == Layer("conv", 1, 4, 8, 8, 3, 2, 1, name="0", bias=True)
    assert layers[1].in_h == 4 and layers[3].in_h == 4
    bad = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, 1, 0))
    try:
        trace_layers(bad, (1, 1, 8, 8))
    except ValueError as e:
        assert "same-padding" in str(e)
    else:
        raise AssertionError("a valid-padding conv must be refused")
