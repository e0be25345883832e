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
