"""The accelerator-policy benchmark's scoring (benchmarks/bench_accel_policy.py): hypervolume with the reference
at the median random draw, as a fraction of the box from the best values seen to that reference."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from bench_accel_policy import hv_from, median_reference  # noqa: E402


def test_the_reference_is_the_median_of_the_distinct_draws_of_every_seed():
    seed0 = np.array([[60.0, 4.0], [80.0, 2.0], [80.0, 2.0]])  # the same model drawn twice counts once
    seed1 = np.array([[90.0, 1.0], [70.0, 3.0]])
    ref = median_reference([seed0, seed1, np.empty((0, 2))])
    assert ref.tolist() == [75.0, 2.5]


def test_the_hypervolume_is_the_fraction_of_the_box_up_to_the_reference():
    ref, best = np.array([80.0, 2.0]), np.array([100.0, 0.0])  # box 20 points x 2 mJ = 40
    one = np.array([[90.0, 1.0]])  # dominates 10 x 1
    assert hv_from(one, ref, best) == pytest.approx(10 / 40)
    two = np.array([[90.0, 1.0], [95.0, 1.5]])  # adds 5 x 0.5
    assert hv_from(two, ref, best) == pytest.approx(12.5 / 40)
    assert hv_from(np.array([[100.0, 0.0]]), ref, best) == pytest.approx(1.0)


def test_points_outside_the_reference_count_nothing():
    ref, best = np.array([80.0, 2.0]), np.array([100.0, 0.0])
    outside = np.array([[70.0, 0.5], [99.0, 3.0], [80.0, 1.0]])  # less accurate, costlier, on the boundary
    assert hv_from(outside, ref, best) == 0.0
    assert hv_from(np.empty((0, 2)), ref, best) == 0.0
    assert hv_from(np.vstack([outside, [[90.0, 1.0]]]), ref, best) == pytest.approx(10 / 40)


def _parts(per):
    from types import SimpleNamespace

    from bench_accel_policy import method_parts

    from hwnas.data import get_dataset
    from hwnas.spaces.signal1d import Signal1DSpace

    d = get_dataset("digits")
    base = Signal1DSpace(input_shape=(1, 64), max_conv=2, conv_channels=(8,), conv_kernels=(3,), max_fc=1,
                         fc_widths=(16,))
    quality = SimpleNamespace(data=SimpleNamespace(x_train=d.x_train.reshape(-1, 1, 64), y_train=d.y_train))
    return method_parts(base, quality, ["int4", "w4a8", "int8", "int16"], per, "edge_npu")


def test_per_network_makes_only_the_joint_search_one_precision_per_network():
    block, network = _parts("block"), _parts("network")
    assert block["joint"] is block["random"] and block["joint"][0].per == "block"
    assert len(block["joint"][0].policy_blocks) > 1
    joint = network["joint"][0]
    assert joint.per == "network" and len(joint.policy_blocks) == 1
    assert list(joint.precisions) == ["int4", "w4a8", "int8", "int16"]
    # the baseline and the median reference stay on the per-block space of the bar
    assert network["random"][0].per == "block" and network["random"][0].policy_blocks == block["random"][0].policy_blocks
    assert list(network["int8"][0].precisions) == ["int8"]


def test_an_unknown_per_is_refused_naming_the_choices(capsys):
    from bench_accel_policy import parser

    assert parser().parse_args(["--per", "network"]).per == "network"
    assert parser().parse_args([]).per == "block"
    with pytest.raises(SystemExit):
        parser().parse_args(["--per", "layer"])
    assert "block" in capsys.readouterr().err


def test_joint_policy_union_joins_the_first_half_budget_of_each_separate_search():
    """bench_joint_policy's ``union`` is what two searches of half the budget each would have found: the
    first budget / 2 evaluations of the fp32 and the int8 search; ``union_2x`` joins both whole."""
    from bench_joint_policy import score_plane

    random = [np.array([[50.0, 5.0], [70.0, 3.0], [90.0, 4.0], [60.0, 2.0]])]
    fp32 = [np.array([[80.0, 2.0], [50.0, 5.0], [99.0, 1.0], [50.0, 5.0]])]  # its best comes after half
    int8 = [np.array([[85.0, 2.5], [50.0, 5.0], [50.0, 5.0], [50.0, 5.0]])]
    joint = [np.array([[80.0, 2.0], [85.0, 2.5], [50.0, 5.0], [50.0, 5.0]])]
    scored = score_plane({"joint": joint, "fp32": fp32, "int8": int8, "random": random}, budget=4)
    for name in ("range", "median"):
        s = scored[name]
        assert s["per_seed"]["union"] == s["per_seed"]["joint"]  # joint holds exactly the two halves' points
        assert s["per_seed"]["union_2x"][0] > s["per_seed"]["union"][0]  # (99, 1) only in the whole fp32 search
        assert s["bar"] and s["joint_over_union"] == pytest.approx(1.0)
    assert scored["median"]["reference"] == [65.0, 3.5]  # the median of the random draws
    assert scored["median"]["per_seed"]["union_2x"][0] == pytest.approx(1.0)  # (99, 1) is the box's best corner


def test_the_ceiling_pools_every_int8_model_into_the_joint_space_and_scores_both_in_one_box():
    from bench_accel_ceiling import pooled, ratio, stored_ceilings

    int8 = [np.array([[90.0, 1.0]]), np.array([[90.0, 1.0], [85.0, 0.5]])]  # one model found twice
    joint = [np.array([[95.0, 1.5]])]
    j, i = pooled([{"int8": int8, "joint": joint}, {"random": [np.array([[70.0, 0.2]])]}])
    assert i.tolist() == [[85.0, 0.5], [90.0, 1.0]]
    assert j.tolist() == [[70.0, 0.2], [85.0, 0.5], [90.0, 1.0], [95.0, 1.5]]  # int8 models are joint models too
    ref, best = np.array([80.0, 2.0]), np.array([100.0, 0.0])
    r = ratio(j, i, ref, best)
    assert r["int8"] == pytest.approx((10 * 1 + 5 * 0.5) / 40)
    assert r["joint"] == pytest.approx((10 * 1 + 5 * 0.5 + 5 * 0.5) / 40)
    assert r["ratio"] == pytest.approx(15 / 12.5)
    # a stored report: runs of one task pooled per QAT setting, each scored in its own box
    run = {"points": {"joint": joint, "int8": int8, "random": [np.array([[70.0, 2.0]])]}, "epochs": 0,
           "median_reference": {"reference": [80.0, 2.0], "joint_over_int8": 1.1}}
    qat = {**run, "points": {"joint": [np.array([[99.0, 0.1]])], "int8": int8, "random": []}, "epochs": 1}
    other = {**run, "points": {"joint": [np.array([[99.0, 0.1]])], "int8": int8, "random": []}}
    out = stored_ceilings({"digits/linas/budget40/per-block": run, "digits/linas/budget40/per-block/qat1": qat,
                           "mnist1d/linas/budget40/per-block": other}, "digits")
    assert set(out) == {"digits/linas/budget40/per-block", "digits/linas/budget40/per-block/qat1"}
    assert out["digits/linas/budget40/per-block"]["ratio"] == pytest.approx(15 / 12.5)  # the QAT run not pooled in


def test_joined_ceiling_reports_pool_their_fronts_and_refuse_other_draws():
    from bench_accel_ceiling import joined

    a = {"reference": [80.0, 2.0], "random": [[[70.0, 3.0], [90.0, 1.0]]],
         "fronts": {"int8/nsga2": [[[90.0, 1.0]]], "joint/nsga2": [[[95.0, 1.5]]]}}
    b = {**a, "fronts": {"joint/linas": [[[85.0, 0.5]]]}}
    r = joined([a, b])
    # joint pool: 90/1, 95/1.5, 85/0.5 (box from 95 %, 0.5 to 80 %, 2: 15 x 1.5); int8 pool: 90/1
    assert r["int8"] == pytest.approx(10 * 1 / 22.5)
    assert r["joint"] == pytest.approx((10 * 1 + 5 * 0.5 + 5 * 0.5) / 22.5)
    with pytest.raises(SystemExit, match="references differ"):
        joined([a, {**b, "reference": [81.0, 2.0]}])


def test_the_bar_s_ratio_of_medians_comes_with_a_seed_bootstrap_interval():
    from bench_joint_policy import ratio_interval

    same = ratio_interval([0.5] * 5, [0.5] * 5)
    assert same == pytest.approx([1.0, 1.0])  # no spread over seeds: no interval
    lo, hi = ratio_interval([0.4, 0.5, 0.6, 0.7, 0.8], [0.6] * 5)
    assert lo < 0.6 / 0.6 < hi and lo >= 0.4 / 0.6 and hi <= 0.8 / 0.6
    assert ratio_interval([0.4, 0.5, 0.6, 0.7, 0.8], [0.6] * 5) == [lo, hi]  # seeded: the same every time
