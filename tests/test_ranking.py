"""NSGA-II order of the evolutionary strategies (``hwnas.strategies.ranking``)."""

import numpy as np
import pytest

from hwnas.strategies.ranking import best_order, rank_and_crowding, survivors


@pytest.mark.parametrize("seed", range(5))
def test_the_first_k_of_the_order_are_those_of_the_fully_sorted_order(seed):
    """Sorting stops once ``k`` rows are ranked; the first ``k`` rows and their order do not change."""
    rng = np.random.default_rng(seed)
    F = rng.random((400, 2))  # about 30 fronts
    F[rng.random(400) < 0.05] = np.nan  # broken evaluations rank last
    violation = np.where(rng.random(400) < 0.2, rng.random(400), 0.0)
    full = best_order(F, violation)
    for k in (1, 7, 32, 150, 400):
        np.testing.assert_array_equal(best_order(F, violation, k), full[:k])
    for k in (1, 7, 32, 150):  # all 400 survive as they are
        np.testing.assert_array_equal(survivors(F, k, violation), full[:k])


def test_rows_left_unsorted_rank_after_the_fronts_found_and_before_the_infeasible():
    F = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [2.0, 2.0], [3.0, 3.0], [0.0, 0.0]])
    violation = np.array([0, 0, 0, 0, 0, 1.0])
    rank, crowd = rank_and_crowding(F, violation, needed=2)
    assert rank.tolist() == [0, 0, 1, 1, 1, 2]  # front 0 holds 2 rows; rows 2-4 unsorted; row 5 infeasible
    assert crowd[2:].tolist() == [0.0] * 4
    full_rank, _ = rank_and_crowding(F, violation)
    assert full_rank.tolist() == [0, 0, 1, 2, 3, 4]
