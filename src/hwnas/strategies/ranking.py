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


def rank_and_crowding(F: np.ndarray, violation: np.ndarray | None = None,
                      needed: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per row: a rank (0 best; infeasible rows rank after every feasible front) and a crowding distance.

    ``needed``: only the best ``needed`` rows' order is wanted. Sorting stops once the fronts found hold
    that many rows (pymoo's ``n_stop_if_ranked``); the feasible rows left unsorted share the rank after
    the last front found, with crowding 0, so the order of the best ``needed`` rows is the same as
    with every front sorted, at a fraction of the cost on a large set with many fronts.
    """
    F = np.asarray(F, dtype=float)
    n = len(F)
    cv = np.zeros(n) if violation is None else np.asarray(violation, dtype=float)
    rank = np.zeros(n, dtype=np.int64)
    crowd = np.zeros(n)
    feasible = np.flatnonzero((cv <= 0) & np.isfinite(F).all(axis=1))
    n_fronts = 0
    if len(feasible):
        stop = len(feasible) if needed is None else min(int(needed), len(feasible))
        fronts = NonDominatedSorting().do(F[feasible], n_stop_if_ranked=stop)
        n_fronts = len(fronts)
        rank[feasible] = n_fronts  # rows left unsorted (``needed``)
        for r, front in enumerate(fronts):
            idx = feasible[front]
            rank[idx] = r
            crowd[idx] = calc_crowding_distance(F[idx]) if len(idx) > 2 else np.inf
        n_fronts += int(sum(len(f) for f in fronts) < len(feasible))
    infeasible = np.setdiff1d(np.arange(n), feasible)
    if len(infeasible):
        order = np.argsort(np.nan_to_num(cv[infeasible], nan=np.inf), kind="stable")
        rank[infeasible[order]] = n_fronts + np.arange(len(infeasible))
        crowd[infeasible] = 0.0
    return rank, crowd


def best_order(F: np.ndarray, violation: np.ndarray | None = None, k: int | None = None) -> np.ndarray:
    """Row indices from best to worst: by rank, then by larger crowding distance (only the first ``k``
    in that order when ``k`` is given: see ``needed`` of :func:`rank_and_crowding`)."""
    rank, crowd = rank_and_crowding(F, violation, needed=k)
    order = np.lexsort((-crowd, rank))
    return order if k is None else order[:k]


def survivors(F: np.ndarray, k: int, violation: np.ndarray | None = None) -> np.ndarray:
    """Indices of the ``k`` rows NSGA-II keeps (crowding is computed within each front)."""
    F = np.asarray(F, dtype=float)
    n = len(F)
    if k >= n:
        return np.arange(n)
    return best_order(F, violation, k)


def binary_tournament(rank: np.ndarray, crowd: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` winners of random pairwise contests (lower rank wins, then larger crowding)."""
    a = rng.integers(0, len(rank), size=n)
    b = rng.integers(0, len(rank), size=n)
    a_wins = (rank[a] < rank[b]) | ((rank[a] == rank[b]) & (crowd[a] >= crowd[b]))
    return np.where(a_wins, a, b)
