"""AcceleratorModel: per-layer and network costs, energy as an objective, caching, refusals, presets, CLI."""

import json

import pytest

from hwnas.cli.main import main
from hwnas.core.errors import ConfigError, CostModelError
from hwnas.core.layers import Layer, Workload
from hwnas.costs.accelerator import AcceleratorConfig, AcceleratorModel, available_presets, load_preset
from hwnas.costs.systolic import GemmShape, compute_cycles


def _layers():
    return [
        Layer("conv", 3, 32, 32, 32, kernel=3, stride=2, name="stem"),
        Layer("relu", 32, 32, 16, 16, name="act"),
        Layer("dwconv", 32, 32, 16, 16, kernel=3, groups=32, name="dw"),
        Layer("conv", 32, 64, 16, 16, kernel=1, name="pw"),
        Layer("avgpool", 64, 64, 16, 16, kernel=2, stride=2, name="pool"),
        Layer("linear", 64 * 64, 10, name="fc"),
    ]


def test_layer_costs_follow_the_array_model():
    m = AcceleratorModel(AcceleratorConfig(rows=16, cols=16, dataflow="os", vector_lanes=8))
    stem = m.cost_layer(_layers()[0])
    assert stem.compute_cycles == compute_cycles(GemmShape(16 * 16, 32, 27), 16, 16, "os")
    dw = m.cost_layer(_layers()[2])  # 32 one-channel products, as SCALE-Sim runs depthwise layers
    assert dw.compute_cycles == 32 * compute_cycles(GemmShape(256, 1, 9), 16, 16, "os")
    assert dw.mapping_efficiency < 0.1 < m.cost_layer(_layers()[3]).mapping_efficiency
    assert m.cost_layer(_layers()[1]).unit == "fused" and m.cost_layer(_layers()[1]).total_cycles == 0
    pool = m.cost_layer(_layers()[4])
    assert pool.unit == "vector" and pool.compute_cycles == -(-64 * 8 * 8 * 4 // 8)


def test_network_totals_energy_and_units():
    m = AcceleratorModel(AcceleratorConfig(vector_lanes=16))
    w = Workload("n", _layers(), (1, 3, 32, 32))
    out = m.cost(w)
    assert set(out) == set(m.units) and m.units["energy_mj"] == "mJ"
    per = m.cost_layers(w.layers)
    assert out["cycles"] == sum(r["total_cycles"] for r in per) == out["compute_cycles"] + out["stall_cycles"]
    assert out["energy_mj"] == pytest.approx(sum(r["energy"] for r in per))
    assert out["latency_ms"] == pytest.approx(out["cycles"] / 1e6)  # 1 GHz default clock
    assert 0 < out["utilization"] < 1
    # halving the DRAM energy lowers energy but not cycles: energy is its own objective
    cheap = AcceleratorModel(AcceleratorConfig(vector_lanes=16, energy={"dram_pj_per_byte": 25.0})).cost(w)
    assert cheap["energy_mj"] < out["energy_mj"] and cheap["cycles"] == out["cycles"]


def test_bandwidth_starved_array_stalls():
    big = Layer("linear", 1024, 1024, name="fc")  # weights used once: memory-bound
    fast = AcceleratorModel(AcceleratorConfig(bandwidth=1000)).cost_layer(big)
    slow = AcceleratorModel(AcceleratorConfig(bandwidth=1)).cost_layer(big)
    assert fast.stall_cycles == 0 and fast.compute_cycles == slow.compute_cycles
    assert slow.stall_cycles == slow.dram_bytes - slow.compute_cycles > 0  # 1 word/cycle, 1-byte words


def test_cache_hits_by_shape():
    m = AcceleratorModel()
    a = Layer("conv", 16, 16, 8, 8, kernel=3, name="a")
    b = Layer("conv", 16, 16, 8, 8, kernel=3, name="b")
    assert m.cost_layer(a) is m.cost_layer(b)
    assert len(m._cache) == 2  # the layer key and its GEMM key


def test_unknown_ops_refused_with_names():
    m = AcceleratorModel()  # no vector unit
    with pytest.raises(CostModelError, match=r"'accelerator'.*pool.*'avgpool'.*vector_lanes"):
        m.cost(Workload("n", _layers(), (1, 3, 32, 32)))
    with pytest.raises(CostModelError, match="add1.*'add'"):
        m.cost_layer(Layer("add", 8, 8, 4, 4, name="add1"))


@pytest.mark.parametrize("bad, field", [
    ({"rows": 0}, "rows"), ({"cols": -3}, "cols"), ({"bandwidth": -1.0}, "bandwidth"),
    ({"bandwidth": 0}, "bandwidth"), ({"dataflow": "rs"}, "dataflow"), ({"clock_mhz": 0}, "clock_mhz"),
    ({"ifmap_sram_kb": 0}, "ifmap_sram_kb"), ({"rows": 128, "cols": 128, "filter_sram_kb": 8}, "filter_sram_kb"),
    ({"dataflow": "os", "rows": 64, "cols": 64, "ofmap_sram_kb": 2}, "ofmap_sram_kb"),
    ({"energy": {"mac_pj": -1}}, "mac_pj"), ({"energy": {"bogus": 1}}, "bogus"), ({"fused_ops": ["conv"]}, "conv"),
    ({"vector_lanes": -1}, "vector_lanes"),
])
def test_impossible_hardware_refused(bad, field):
    with pytest.raises(ConfigError, match=field):
        AcceleratorConfig(**bad)


def test_presets_load_and_cost(tmp_path):
    assert {"eyeriss", "tpu", "edge_npu"} <= set(available_presets())
    w = Workload("n", _layers(), (1, 3, 32, 32))
    lat = {}
    for p in ("eyeriss", "tpu", "edge_npu"):
        m = AcceleratorModel(preset=p)
        assert m.config.name == p
        lat[p] = m.cost(w)["latency_ms"]
    assert lat["eyeriss"] > lat["edge_npu"]  # 200 MHz, 168 PEs vs 1 GHz, 256 PEs
    with pytest.raises(ConfigError, match="not found"):
        load_preset("nope")
    f = tmp_path / "mine.yaml"
    f.write_text("rows: 8\ncols: 8\ndataflow: os\nwarp_drive: 1\n")
    with pytest.raises(ConfigError, match="warp_drive"):
        load_preset(str(f))
    f.write_text("rows: 8\ncols: 8\ndataflow: os\n")
    assert load_preset(str(f)).rows == 8
    assert AcceleratorModel(preset="tpu", rows=64, cols=64).config.rows == 64


def test_accel_cli_writes_report(tmp_path):
    topo = tmp_path / "t.csv"
    topo.write_text("Layer name, IFMAP height, IFMAP width, Filter height, Filter width, Channels, Num filter, Strides,\n"
                    "c1, 10, 10, 3, 3, 3, 20, 1,\nc2, 12, 12, 3, 3, 16, 5, 2,\n")
    out = tmp_path / "r.json"
    assert main(["accel", "--topology", str(topo), "--array", "8x8", "--dataflow", "os",
                 "--sram-kb", "64,64,64", "--bandwidth", "10", "--json", str(out)]) == 0
    r = json.loads(out.read_text())
    assert [x["name"] for x in r["layers"]] == ["c1", "c2"]
    assert [x["compute_cycles"] for x in r["layers"]] == [983, 789]  # SCALE-Sim v3's Total Cycles
    assert {"stall_cycles", "utilization", "energy"} <= set(r["layers"][0])
    assert r["total_cycles"] == sum(x["total_cycles"] for x in r["layers"]) and r["elapsed_s"] > 0
    assert main(["accel", "--topology", str(topo), "--array", "8x0"]) == 2
    assert main(["accel", "--topology", str(tmp_path / "missing.csv")]) == 2
