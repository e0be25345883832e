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
