"""Constrained Pareto ranking shared by the evolutionary strategies.

Feasible points come first, ordered by non-domination rank then crowding
distance (NSGA-II's order, computed by pymoo); infeasible points follow,
least violating first (Deb's constraint-domination). Every column of ``F``
is minimised.
"""

from __future__ import annotations

import numpy as np
from pymoo.operators.survival.rank_and_crowding.metrics import calc_crowding_distance
from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting


def rank_and_crowding(F: np.ndarray, violation: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per row: a rank (0 best; infeasible rows rank after every feasible front) and a crowding distance."""
    F = np.asarray(F, dtype=float)
    n = len(F)
    cv = np.zeros(n) if violation is None else np.asarray(violation, dtype=float)
    rank = np.zeros(n, dtype=np.int64)
    crowd = np.zeros(n)
    feasible = np.flatnonzero((cv <= 0) & np.isfinite(F).all(axis=1))
    n_fronts = 0
    if len(feasible):
        fronts = NonDominatedSorting().do(F[feasible])
        n_fronts = len(fronts)
        for r, front in enumerate(fronts):
            idx = feasible[front]
            rank[idx] = r
            crowd[idx] = calc_crowding_distance(F[idx]) if len(idx) > 2 else np.inf
    infeasible = np.setdiff1d(np.arange(n), feasible)
    if len(infeasible):
        order = np.argsort(np.nan_to_num(cv[infeasible], nan=np.inf), kind="stable")
        rank[infeasible[order]] = n_fronts + np.arange(len(infeasible))
        crowd[infeasible] = 0.0
    return rank, crowd


def best_order(F: np.ndarray, violation: np.ndarray | None = None) -> np.ndarray:
    """Row indices from best to worst: by rank, then by larger crowding distance."""
    rank, crowd = rank_and_crowding(F, violation)
    return np.lexsort((-crowd, rank))


def survivors(F: np.ndarray, k: int, violation: np.ndarray | None = None) -> np.ndarray:
    """Indices of the ``k`` rows NSGA-II keeps (crowding is computed within each front)."""
    F = np.asarray(F, dtype=float)
    n = len(F)
    if k >= n:
        return np.arange(n)
    return best_order(F, violation)[:k]


def binary_tournament(rank: np.ndarray, crowd: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` winners of random pairwise contests (lower rank wins, then larger crowding)."""
    a = rng.integers(0, len(rank), size=n)
    b = rng.integers(0, len(rank), size=n)
    a_wins = (rank[a] < rank[b]) | ((rank[a] == rank[b]) & (crowd[a] >= crowd[b]))
    return np.where(a_wins, a, b)
