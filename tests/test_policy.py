"""The quantization policy in the search space: precisions per target, policy genes, canonical form, layer bits."""

from __future__ import annotations

import numpy as np
import pytest

from hwnas.app.config import parse_config
from hwnas.compress.policy import check_precisions
from hwnas.core.errors import ConfigError, InvalidArchitecture
from hwnas.spaces.mobilenet import MobileNetSpace
from hwnas.spaces.quantized import QuantizedSpace
from hwnas.spaces.signal1d import Signal1DSpace


def small_signal():
    return Signal1DSpace(input_shape=(1, 16), num_classes=3, max_conv=2, conv_channels=(2, 4), conv_kernels=(3,),
                         max_fc=2, fc_widths=(4, 8))


def test_target_refuses_precisions_it_emulates_with_the_reason():
    with pytest.raises(ConfigError, match="int4.*emulates int4 convolutions in fp32.*slower than fp32"):
        check_precisions(["int4", "fp32"], "onnxruntime")
    with pytest.raises(ConfigError, match="int16.*no 16-bit integer convolution"):
        check_precisions(["int16"], "onnxruntime")
    with pytest.raises(ConfigError, match=r"'fp8' is not a precision.*\['int8', 'fp32'\]"):
        check_precisions(["fp8"], "onnxruntime")
    with pytest.raises(ConfigError, match="fp32.*datapath is integer"):
        check_precisions(["int8", "fp32"], "accelerator")
    assert check_precisions(["int4", "int8", "int16"], "accelerator") == ("int4", "int8", "int16")
    assert check_precisions(["int4", "w4a8", "int8"], "accelerator") == ("int4", "w4a8", "int8")
    with pytest.raises(ConfigError, match="'w4a8' refused for target 'onnxruntime'.*DequantizeLinear before an fp32 "
                                          r"Conv.*MatMulNBits covers MatMul and Gather only.*\['int8', 'fp32'\]"):
        check_precisions(["int8", "w4a8"], "onnxruntime")


def test_config_refuses_a_non_native_precision_when_read():
    with pytest.raises(ConfigError, match="compress.quantize.*'int4' refused for target 'onnxruntime'"):
        parse_config({"supernet": {}, "compress": {"quantize": {"precisions": ["int8", "int4"]}}}, "c.yaml")
    with pytest.raises(ConfigError, match="precisions.*'w4a8' refused for target 'onnxruntime'"):
        parse_config({"supernet": {}, "compress": {"quantize": {"precisions": ["int8", "w4a8"]}}}, "c.yaml")
    cfg = parse_config({"supernet": {}, "compress": {"quantize": {"target": "accelerator",
                                                                  "precisions": ["int4", "w4a8", "int8", "int16"]}}},
                       "c.yaml")
    assert cfg.compress.quantize.precisions == ["int4", "w4a8", "int8", "int16"]
    with pytest.raises(ConfigError, match="calibration.method"):
        parse_config({"supernet": {}, "compress": {"quantize": {"calibration": {"method": "kl"}}}}, "c.yaml")
    cfg = parse_config({"supernet": {}, "compress": {"quantize": {"calibration": {"method": "entropy",
                                                                                  "samples": 32}}}}, "c.yaml")
    assert cfg.compress.quantize.precisions == ["int8", "fp32"] and cfg.compress.quantize.calibration.samples == 32


def test_policy_genes_are_dimensions_of_the_space():
    base = MobileNetSpace()
    q = QuantizedSpace(base)
    assert [d.name for d in q.dimensions[:len(base.dimensions)]] == [d.name for d in base.dimensions]
    policy = [d.name for d in q.dimensions[len(base.dimensions):]]
    assert policy == ["bits." + b for b in base.precision_blocks()]
    assert q.size == base.size * 2 ** len(policy)
    whole = QuantizedSpace(base, per="network")
    assert [d.name for d in whole.dimensions[len(base.dimensions):]] == ["bits.net"]


def test_canonical_merges_policies_of_blocks_not_run():
    q = QuantizedSpace(small_signal())
    base = {"n_conv": 1, "conv1_channels": 4, "conv1_kernel": 3, "conv2_channels": 2, "conv2_kernel": 3,
            "n_fc": 1, "fc1_width": 8, "fc2_width": 4}
    a = {**base, "bits.conv1": "int8", "bits.conv2": "int8", "bits.fc1": "fp32", "bits.fc2": "int8",
         "bits.classifier": "int8"}
    b = {**a, "bits.conv2": "fp32", "bits.fc2": "fp32"}  # conv2 and fc2 are not run
    c = {**a, "bits.conv1": "fp32"}  # conv1 is run: another policy
    assert q.key(a) == q.key(b) != q.key(c)
    assert q.policy(a) == {"conv1": "int8", "fc1": "fp32", "classifier": "int8"}
    genes = q.sample_genes(np.random.default_rng(0), 200)
    rows = np.stack([q.to_genes(q.canonical(q.from_genes(g))) for g in genes])
    assert (q.canonical_genes(genes) == rows).all()


def test_bad_policies_are_refused_naming_block_and_allowed_values():
    q = QuantizedSpace(small_signal())
    arch = q.largest()
    with pytest.raises(InvalidArchitecture, match=r"bits.conv9.*blocks are \['conv1', 'conv2', 'fc1', 'fc2', "
                                                  r"'classifier'\]"):
        q.validate({**arch, "bits.conv9": "int8"})
    with pytest.raises(InvalidArchitecture, match=r"bits.fc1='int4' is not allowed.*\['int8', 'fp32'\]"):
        q.validate({**arch, "bits.fc1": "int4"})
    small = q.base.smallest()  # no conv layer, one FC layer
    with pytest.raises(InvalidArchitecture, match=r"\['conv1'\].*no such block; it runs \['fc1', 'classifier'\]"):
        q.with_policy(small, {"conv1": "int8"})
    with pytest.raises(InvalidArchitecture, match=r"\{'fc1': 'int16'\}.*one of \['int8', 'fp32'\]"):
        q.with_policy(small, {"fc1": "int16"})


def test_layer_list_carries_each_blocks_bit_width():
    q = QuantizedSpace(small_signal())
    base = q.base.largest()
    arch = q.with_policy(base, {"conv1": "int8", "conv2": "fp32", "fc1": "int8", "fc2": "fp32",
                                "classifier": "int8"})
    bits = {lay.name: lay.w_bits for lay in q.layers(arch) if lay.op in ("conv", "linear")}
    # extracted module: conv1 (0-2), conv2 (3-5), flatten (6), fc1 (7-8), fc2 (9-10), classifier (11)
    assert bits == {"0": 8, "3": 32, "7": 8, "9": 32, "11": 8}
    assert all(lay.a_bits == lay.w_bits for lay in q.layers(arch))
    fp32 = q.with_policy(base, "fp32")
    assert q.layers(fp32) == q.base.layers(base)
    assert q.is_float(fp32) and not q.is_float(arch)


def test_w4a8_blocks_carry_4_bit_weights_and_8_bit_activations():
    q = QuantizedSpace(small_signal(), ("int4", "w4a8", "int8"), target="accelerator")
    base = q.base.largest()
    arch = q.with_policy(base, {"conv1": "w4a8", "conv2": "int8", "fc1": "int4", "fc2": "w4a8",
                                "classifier": "w4a8"})
    widths = {lay.name: (lay.w_bits, lay.a_bits) for lay in q.layers(arch) if lay.op in ("conv", "linear")}
    assert widths == {"0": (4, 8), "3": (8, 8), "7": (4, 4), "9": (4, 8), "11": (4, 8)}
    assert q.policy(arch)["conv1"] == "w4a8"


def test_w4a8_energy_lies_between_int4_and_int8_and_its_size_follows_the_weights():
    from hwnas.costs.accelerator import AcceleratorModel
    from hwnas.costs.size import SizeModel

    q = QuantizedSpace(MobileNetSpace(), ("int4", "w4a8", "int8"), target="accelerator")
    model, size = AcceleratorModel(preset="edge_npu"), SizeModel()
    for base in (q.base.smallest(), q.base.largest()):
        energy = {p: model.cost(q.workload(q.with_policy(base, p)))["energy_mj"] for p in q.precisions}
        assert energy["int4"] < energy["w4a8"] < energy["int8"]
        kb = {p: size.cost(q.workload(q.with_policy(base, p)))["size_kb"] for p in q.precisions}
        assert kb["w4a8"] == pytest.approx(kb["int4"]) and kb["w4a8"] < kb["int8"]


def test_compress_without_a_supernet_is_refused():
    with pytest.raises(ConfigError, match="compress.quantize.*train-once job"):
        parse_config({"objectives": ["accuracy:max"], "compress": {"quantize": {}}}, "c.yaml")


def test_half_the_draws_have_a_uniform_policy():
    q = QuantizedSpace(MobileNetSpace())
    genes = q.sample_genes(np.random.default_rng(1), 2000)
    policy = genes[:, len(q.base.dimensions):]
    uniform = (policy == policy[:, :1]).all(axis=1)
    assert 0.45 < uniform.mean() < 0.56  # 1/2 drawn uniform, plus 2/2^9 of the block-by-block draws
    assert 0.4 < (policy[uniform, 0] == 0).mean() < 0.6  # both precisions
    mixed = policy[~uniform]
    assert 0.45 < mixed.mean() < 0.55  # blocks independent, each precision equally likely


def test_default_strategy_searches_a_per_block_policy_past_its_gaussian_process_switch():
    """The policy's blocks are names, not spaces: a quantized space is no product of block spaces, so the
    default strategy's quality GP (from ``quality_surrogate_after`` on) takes no per-block kernels and
    the search runs to its budget."""
    from hwnas.core.objectives import Objective
    from hwnas.evaluators.base import Evaluator
    from hwnas.spaces.product import feature_groups, one_block_space
    from hwnas.strategies import get_strategy
    from hwnas.study import Study

    q = QuantizedSpace(small_signal(), ["int8", "fp32"], per="block")
    assert len(q.policy_blocks) > 1
    assert feature_groups(q) is None and not one_block_space(q)

    class Synthetic(Evaluator):
        metrics = ("accuracy", "latency_ms")

        def evaluate(self, arch):
            g = q.genes_matrix([arch])[0].astype(float)
            return {"accuracy": float(50 + g.sum() + np.sin(g).sum()), "latency_ms": float(1 + (g * g).sum())}

    strategy = get_strategy("linas", n_init=8, quality_surrogate_after=12)
    study = Study(q, Synthetic(), [Objective.parse("accuracy:max"), Objective.parse("latency_ms:min")],
                  strategy, seed=0)
    study.optimize(25)
    assert sum(t.ok for t in study.trials) == 25
    assert strategy.models.kind("accuracy", 25) == "gp" and strategy.models.models["accuracy"].groups is None


def test_features_read_the_policy_as_a_whole_uniform_shares_and_precision_changes():
    """Beyond each block's precision: the share of running blocks at each precision, whether the policy is
    uniform, and the share of precision changes between consecutive running blocks (Quantize / Dequantize
    pairs), all over the blocks the architecture runs."""
    q = QuantizedSpace(MobileNetSpace(), ["int8", "fp32"])
    base = q.base.largest()
    blocks = list(q.running_blocks(base))
    alternating = {b: ("int8" if i % 2 == 0 else "fp32") for i, b in enumerate(blocks)}
    archs = [q.with_policy(base, "fp32"), q.with_policy(base, "int8"), q.with_policy(base, alternating)]
    F = q.features(q.genes_matrix(archs))
    width = q.base.features(q.base.genes_matrix([base])).shape[1] + int(q.cardinalities[len(q.base.dimensions):].sum())
    assert F.shape[1] == width + 2 + 2 + 1
    extra = F[:, width:]  # share int8, share fp32, uniform int8, uniform fp32, changes
    n = len(blocks)
    np.testing.assert_allclose(extra[0], [0, 1, 0, 1, 0])
    np.testing.assert_allclose(extra[1], [1, 0, 1, 0, 0])
    np.testing.assert_allclose(extra[2], [(n + 1) // 2 / n, n // 2 / n, 0, 0, (n - 1) / n])
    # a block the architecture does not run counts nowhere: its gene takes the first precision when canonical
    small = q.base.smallest()
    assert len(q.running_blocks(small)) < len(q.policy_blocks)
    np.testing.assert_allclose(q.features(q.genes_matrix([q.with_policy(small, "fp32")]))[0, -5:], [0, 1, 0, 1, 0])


def test_a_strategy_s_initial_design_takes_uniform_policies_as_the_sampler_draws_them():
    from hwnas.strategies.linas.candidates import balanced_design

    q = QuantizedSpace(MobileNetSpace(), ["int8", "fp32"])
    rng = np.random.default_rng(0)
    design = balanced_design(q.cardinalities, 400, rng)
    steered = q.design_genes(design, rng)
    nb = len(q.base.dimensions)
    assert (steered[:, :nb] == design[:, :nb]).all()  # the architecture is the design's
    uniform = (steered[:, nb:] == steered[:, nb:nb + 1]).all(axis=1)
    assert 0.4 < uniform.mean() < 0.6 and (design[:, nb:] == design[:, nb:nb + 1]).all(axis=1).mean() < 0.05
    # a space without such knowledge leaves the design as it is and draws nothing
    plain = MobileNetSpace()
    a, b = np.random.default_rng(1), np.random.default_rng(1)
    d = balanced_design(plain.cardinalities, 20, a)
    assert plain.design_genes(d, a) is d
    balanced_design(plain.cardinalities, 20, b)
    assert a.random() == b.random()
