"""The accelerator model costs each layer at its precision: MAC energy per width, traffic scaling with bits."""

import math

import pytest

from hwnas.core.errors import ConfigError
from hwnas.core.layers import Layer, Workload
from hwnas.costs.accelerator import AcceleratorConfig, AcceleratorModel, load_preset
from hwnas.costs.energy import HOROWITZ_MAC_PJ, EnergyTable


def _conv(bits=(32, 32), name="c"):
    return Layer("conv", 64, 64, 16, 16, kernel=3, name=name, w_bits=bits[0], a_bits=bits[1])


def test_unquantized_layers_run_at_the_native_width():
    m = AcceleratorModel(preset="edge_npu")  # 8-bit native
    assert m.cost_layer(_conv((32, 32))).energy_pj == m.cost_layer(_conv((8, 8))).energy_pj
    assert m.cost_layer(_conv((32, 32))).dram_bytes == m.cost_layer(_conv((8, 8))).dram_bytes


def test_mac_energy_follows_the_preset_table_per_precision():
    m = AcceleratorModel(preset="edge_npu")
    table = dict(m.config.energy.mac_pj_bits)
    for b in (4, 8, 16):
        lc = m.cost_layer(_conv((b, b)))
        assert lc.energy_pj["mac"] == pytest.approx(lc.macs * table[b])
    mixed = m.cost_layer(_conv((4, 16)))
    assert mixed.energy_pj["mac"] == pytest.approx(mixed.macs * math.sqrt(table[4] * table[16]))
    e4, e8, e16 = (sum(m.cost_layer(_conv((b, b))).energy_pj.values()) for b in (4, 8, 16))
    assert e4 < e8 < e16


def test_traffic_scales_with_bit_width_and_cycles_do_not():
    m = AcceleratorModel(AcceleratorConfig(bandwidth=1.0))  # starved: stalls follow the traffic
    big = {b: m.cost_layer(Layer("linear", 1024, 1024, name="fc", w_bits=b, a_bits=b)) for b in (4, 8, 16)}
    assert big[4].dram_bytes * 2 == pytest.approx(big[8].dram_bytes, rel=0.01)
    assert big[16].dram_bytes == pytest.approx(2 * big[8].dram_bytes, rel=0.01)
    assert len({lc.compute_cycles for lc in big.values()}) == 1
    assert big[4].stall_cycles < big[8].stall_cycles < big[16].stall_cycles
    assert big[4].energy_pj["sram"] < big[8].energy_pj["sram"] < big[16].energy_pj["sram"]


def test_narrow_operands_fit_in_smaller_buffers():
    # the 256 x 144 input-patch matrix: 36 kB at 8 bits exceeds half of a 64 kB ifmap buffer (re-read
    # once per column fold), 18 kB at 4 bits fits (read once), so traffic falls by more than the width
    layer = {b: Layer("conv", 16, 16, 16, 16, kernel=3, w_bits=8, a_bits=b) for b in (4, 8)}
    m = AcceleratorModel(AcceleratorConfig(dataflow="os", ifmap_sram_kb=64.0, rows=8, cols=8))
    assert m.cost_layer(layer[4]).dram_bytes * 3 < m.cost_layer(layer[8]).dram_bytes


def test_energy_table_defaults_follow_horowitz_ratios():
    t = EnergyTable(mac_pj=0.3)
    assert t.mac_energy(16, 16, 8) == pytest.approx(0.3 * HOROWITZ_MAC_PJ[16] / HOROWITZ_MAC_PJ[8])
    assert t.mac_energy(8, 8, 8) == 0.3
    assert EnergyTable(mac_pj_bits={"4": 0.01}).mac_energy(4, 4, 8) == 0.01  # YAML/JSON keys may be strings


@pytest.mark.parametrize("bad, match", [
    ({"mac_pj_bits": {3: 0.1}}, r"bit width 3 not allowed; allowed \[4, 8, 16, 32\]"),
    ({"mac_pj_bits": {4: -1}}, r"mac_pj_bits\[4\]=-1"),
    ({"mac_pj_bits": [1, 2]}, "must map bit widths"),
])
def test_bad_energy_tables_refused(bad, match):
    with pytest.raises(ConfigError, match=match):
        EnergyTable.from_dict(bad)


def test_native_entry_must_agree_with_mac_pj():
    with pytest.raises(ConfigError, match=r"mac_pj_bits\[8\]=0.5 disagrees with energy.mac_pj=0.25"):
        AcceleratorConfig(energy={"mac_pj_bits": {8: 0.5}})


def test_presets_round_trip_with_their_tables():
    for name in ("edge_npu", "tpu", "eyeriss"):
        cfg = load_preset(name)
        assert set(dict(cfg.energy.mac_pj_bits)) == {4, 8, 16}
        assert AcceleratorConfig.from_dict(cfg.to_dict()) == cfg


def test_a_quantized_network_costs_less_energy():
    m = AcceleratorModel(preset="tpu")
    net = [Layer("conv", 3, 32, 16, 16, kernel=3, name="stem"), Layer("relu", 32, 32, 16, 16),
           Layer("gap", 32, 32, 16, 16), Layer("linear", 32, 10, name="fc")]
    w8 = [Layer(**{**x.to_dict(), "w_bits": 8, "a_bits": 8}) for x in net]
    w4 = [Layer(**{**x.to_dict(), "w_bits": 4, "a_bits": 4}) for x in net]
    e = [m.cost(Workload(k, layers, (1, 3, 16, 16)))["energy_mj"] for k, layers in (("8", w8), ("4", w4))]
    assert e[1] < e[0]
