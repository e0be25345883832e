"""Latency lookup tables of a space (``hwnas lut``): the space they are built for, and how well they predict."""

from __future__ import annotations

import json

from hwnas.core.errors import ConfigError


def lut_space(name: str, options_json: str | None = None):
    """The space ``name`` built from a JSON object of options; it must describe architectures as layers."""
    from hwnas.spaces import get_space
    from hwnas.spaces.protocols import is_costable

    try:
        options = json.loads(options_json) if options_json else {}
    except json.JSONDecodeError as e:
        raise ConfigError(f"--space-options: not JSON: {e}") from None
    if not isinstance(options, dict):
        raise ConfigError("--space-options: expected a JSON object of space options")
    space = get_space(name, **options)
    if not is_costable(space):
        raise ConfigError(f"space {name!r} cannot describe its architectures as layers (not trainable)")
    return space


def evaluate_table(table, space, n: int, seed: int, measure, quiet: bool = False) -> dict:
    """Predicted vs measured whole-network latency on ``n`` fresh architectures.

    ``measure`` is the ground truth (hwnas's timer on the table's scale); it also fills
    kernels the table lacks. A progress bar shows on a terminal unless ``quiet``.
    """
    import numpy as np

    from hwnas.core.progress import progress_bar

    rng = np.random.default_rng(seed)
    before = len(table.entries)
    rows = []
    seen = set()
    with progress_bar(quiet) as bar:
        task = bar.add_task("measure networks", total=n, info="")
        while len(rows) < n:
            arch = space.sample(rng)
            key = space.key(arch)
            if key in seen:
                continue
            seen.add(key)
            w = space.workload(arch)
            pred = table.predict(w.layers, measure)
            meas = float(measure(w.build(), w.input_shape))
            rows.append({"arch": key, "predicted_ms": pred, "measured_ms": meas, "rel_err": (pred - meas) / meas})
            bar.update(task, completed=len(rows))
    errs = np.abs([r["rel_err"] for r in rows])
    return {"n": len(rows), "within_10pct": float(np.mean(errs <= 0.10)), "median_abs_err": float(np.median(errs)),
            "p90_abs_err": float(np.quantile(errs, 0.9)), "kernels_measured_on_the_fly": len(table.entries) - before,
            "rows": rows}
