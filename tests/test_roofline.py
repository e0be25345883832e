"""RooflineModel: compute- vs memory-bound layers, overhead, refusals."""

import pytest

from hwnas.core.errors import ConfigError
from hwnas.core.layers import Layer, Workload
from hwnas.costs.roofline import RooflineConfig, RooflineModel


def test_compute_and_memory_bound_layers():
    m = RooflineModel(peak_gmacs=100, peak_gops_elementwise=10, bandwidth_gbs=10, bytes_per_element=4,
                      layer_overhead_us=0)
    conv = Layer("conv", 64, 64, 32, 32, kernel=3)
    t, mem_bound, nbytes = m.layer_cost(conv)
    assert not mem_bound and t == pytest.approx(conv.macs / 100e9)
    add = Layer("add", 64, 64, 32, 32)
    t, mem_bound, nbytes = m.layer_cost(add)
    assert mem_bound and nbytes == 3 * 64 * 32 * 32 * 4 and t == pytest.approx(nbytes / 10e9)


def test_network_latency_sums_layers_plus_overhead():
    layers = [Layer("conv", 3, 16, 32, 32, kernel=3), Layer("relu", 16, 16, 32, 32), Layer("gap", 16, 16, 32, 32),
              Layer("linear", 16, 10)]
    base = RooflineModel(layer_overhead_us=0)
    over = RooflineModel(layer_overhead_us=5)
    w = Workload("n", layers, (1, 3, 32, 32))
    a, b = base.cost(w), over.cost(w)
    assert b["latency_ms"] == pytest.approx(a["latency_ms"] + 4 * 5e-3)
    assert a["latency_ms"] == pytest.approx(sum(base.layer_cost(x)[0] for x in layers) * 1e3)
    assert 0 <= a["memory_bound_fraction"] <= 1 and set(a) == set(base.units)


@pytest.mark.parametrize("field", ["peak_gmacs", "bandwidth_gbs", "bytes_per_element"])
def test_bad_config_refused(field):
    with pytest.raises(ConfigError, match=field):
        RooflineConfig(**{field: 0})
    with pytest.raises(ConfigError, match="layer_overhead_us"):
        RooflineConfig(layer_overhead_us=-1)
    with pytest.raises(ConfigError, match="turbo"):
        RooflineModel(turbo=True)
