"""A PNG plot of a search: every evaluated architecture and the Pareto front (accuracy vs latency)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def plot_front(points: Sequence[tuple[float, float]], front: Sequence[tuple[float, float]], path: str | Path,
               xlabel: str = "latency_ms", ylabel: str = "accuracy", title: str | None = None) -> Path:
    """Scatter ``points`` (x, y) in grey and the ``front`` as a red staircase; write ``path`` (PNG)."""
    path = Path(path)
    fig, ax = plt.subplots(figsize=(6, 4.2), dpi=120)
    if points:
        xs, ys = zip(*points)
        ax.scatter(xs, ys, s=12, c="0.6", label=f"evaluated ({len(points)})")
    if front:
        fx, fy = zip(*sorted(front))
        ax.step(fx, fy, where="post", c="tab:red", lw=1.2)
        ax.scatter(fx, fy, s=28, c="tab:red", zorder=3, label=f"Pareto front ({len(front)})")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
