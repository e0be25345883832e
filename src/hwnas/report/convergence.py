"""How a search converged: hypervolume of the front found after each evaluation."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from hwnas.core.pareto import hypervolume  # noqa: E402
from hwnas.core.trial import Trial  # noqa: E402


def hypervolume_curve(trials: Sequence[Trial], objectives, constraints=()) -> tuple[np.ndarray, np.ndarray]:
    """(evaluation count, hypervolume of the feasible front so far).

    The reference point is the median evaluated value of each objective (as in
    the benchmark scoring), so a few very bad architectures don't flatten the curve.
    """
    F = np.array([t.values(objectives) if t.feasible(constraints) else [np.nan] * len(objectives)
                  for t in trials], dtype=float).reshape(len(trials), len(objectives))
    finite = np.isfinite(F).all(axis=1)
    if not finite.any():
        return np.arange(1, len(trials) + 1), np.zeros(len(trials))
    ref = np.median(F[finite], axis=0)
    hv = np.array([hypervolume(F[: i + 1][finite[: i + 1]], ref) for i in range(len(trials))])
    return np.arange(1, len(trials) + 1), hv


def plot_convergence(trials: Sequence[Trial], objectives, constraints, path: str | Path) -> Path:
    n, hv = hypervolume_curve(trials, objectives, constraints)
    final = hv[-1] if len(hv) and hv[-1] > 0 else 1.0
    fig, ax = plt.subplots(figsize=(6, 3.4), dpi=120)
    ax.plot(n, hv / final, c="tab:blue")
    ax.set_xlabel("distinct evaluations")
    ax.set_ylabel("hypervolume / final\n(ref: median evaluated)")
    ax.set_ylim(0, 1.05)
    ax.grid(alpha=0.3)
    ax.set_title("convergence")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
