"""How well a supernet ranks its sub-networks: architectures spread over the space, Kendall tau statistics.

The ranking is judged on architectures spread across the space
(:func:`spread_archs`: evenly spaced MAC quantiles of a large random sample, so
small, medium and large networks are all present; :func:`grid_spread_archs`: the
same within every combination of chosen dimensions, e.g. width x depth, where a
random sample would hold mostly the deepest networks) against stand-alone
references (:mod:`hwnas.supernet.standalone`). The references are noisy: how
one stand-alone run ranks like the rest (:func:`leave_one_out_taus`) is the
ceiling a supernet can be held to. A *tuned* reference
(:func:`add_tuned_reference`) takes each architecture at its own best stand-alone
recipe, chosen on the validation split.
"""

from __future__ import annotations

import itertools

import numpy as np
from scipy.stats import kendalltau

from hwnas.core.errors import ConfigError
from hwnas.spaces.trainable import TrainableSpace

#: name of the per-architecture tuned reference
TUNED = "tuned"


def spread_archs(space: TrainableSpace, n: int, seed: int = 0, pool: int = 3000) -> list[dict]:
    """``n`` distinct architectures at evenly spaced MAC quantiles of ``pool`` samples; smallest and largest included."""
    rng = np.random.default_rng(seed)
    archs, keys = [], set()
    for genes in space.sample_genes(rng, pool):
        a = space.canonical(space.from_genes(genes))
        k = space.key(a)
        if k not in keys:
            keys.add(k)
            archs.append(a)
    macs = [sum(lay.macs for lay in space.layers(a)) for a in archs]
    # ties (many networks share a MAC count) broken by sampling order: np.argsort's default is not stable, and
    # its tie order differs between NumPy builds and CPUs (SIMD sorts), which would change the picks
    order = sorted(range(len(archs)), key=lambda i: (macs[i], i))
    picks = [archs[order[int(round(q))]] for q in np.linspace(0, len(order) - 1, n)]
    picks[0], picks[-1] = space.smallest(), space.largest()
    return picks


def grid_spread_archs(space: TrainableSpace, n: int, dims: tuple[str, ...], seed: int = 0,
                      pool: int = 3000) -> list[dict]:
    """``n`` distinct architectures spread over every combination (cell) of the values of ``dims``.

    Each cell (e.g. one width and one depth) takes ``n // cells`` networks, the remainder going one each to
    cells spread evenly from the first to the last; within a cell the picks are evenly spaced quantiles, by the
    sum of their gene indices, of ``pool / cells`` random samples in it, so its other dimensions range from the
    first (smallest) choices to the last. The smallest and the largest network are included; the result is
    ordered by MACs (ties by cell).
    """
    names = [d.name for d in space.dimensions]
    unknown = [d for d in dims if d not in names]
    if not dims or unknown:
        raise ConfigError(f"spread dimensions {list(dims)}: {unknown or 'none given'} not of the space; "
                          f"allowed {names}")
    cells = list(itertools.product(*(space.dimensions[names.index(d)].choices for d in dims)))
    if n < len(cells):
        raise ConfigError(f"{n} architectures cannot cover the {len(cells)} combinations of {list(dims)}")
    rng = np.random.default_rng(seed)
    col = [names.index(d) for d in dims]
    counts = np.full(len(cells), n // len(cells))
    if n % len(cells):
        counts[np.round(np.linspace(0, len(cells) - 1, n % len(cells))).astype(int)] += 1
    ends = {0: space.smallest(), len(cells) - 1: space.largest()}  # the first and the last cell hold them
    picks = []
    for j, (cell, k) in enumerate(zip(cells, counts)):
        genes = space.sample_genes(rng, max(1, pool // len(cells)))
        genes[:, col] = [space.dimensions[c].choices.index(v) for c, v in zip(col, cell)]
        found = {space.key(ends[j]): ends[j]} if j in ends else {}
        for g in genes:
            a = space.canonical(space.from_genes(g))
            found.setdefault(space.key(a), a)
        if len(found) < k:
            raise ConfigError(f"cell {dict(zip(dims, cell))} holds {len(found)} distinct networks, fewer than {k}")
        # ordered by the sum of the gene indices (choices run from small to large): from the cell's cheapest
        # network to its costliest; a stable sort, so ties keep sampling order
        order = sorted(found.values(), key=lambda a: int(space.to_genes(a).sum()))
        if k == 1:  # one pick: the smallest network in the first cell, the largest in the last, else the median
            idx = [0 if j == 0 else len(order) - 1 if j == len(cells) - 1 else len(order) // 2]
        else:
            idx = np.round(np.linspace(0, len(order) - 1, k)).astype(int)
        picks += [order[i] for i in idx]
    macs = [sum(lay.macs for lay in space.layers(a)) for a in picks]
    return [picks[i] for i in sorted(range(len(picks)), key=lambda i: (macs[i], i))]


def check_tunable(names: list[str]) -> None:
    """A tuned reference chooses among recipes: refuse fewer than two (checked before any training)."""
    if len(names) < 2:
        raise ConfigError("a tuned reference needs at least two stand-alone recipes to choose from")


def add_tuned_reference(rows: list[dict], names: list[str]) -> None:
    """Per architecture, the stand-alone recipe with the best mean *validation* accuracy, as reference ``tuned``.

    Each row holds ``alone_by_reference`` and ``alone_val_by_reference`` (recipe -> per-seed test and
    validation accuracies); the test accuracies of the chosen recipe's seeds become the row's ``tuned``
    reference and ``tuned_choice`` names it. Ties go to the recipe listed first. The choice never reads a
    test accuracy or a supernet.
    """
    check_tunable(names)
    for r in rows:
        val = {n: float(np.mean(r["alone_val_by_reference"][n])) for n in names}
        best = max(names, key=lambda n: val[n])  # max keeps the first of equals
        r["tuned_choice"] = best
        r["alone_by_reference"][TUNED] = list(r["alone_by_reference"][best])
        r["alone_val_by_reference"][TUNED] = list(r["alone_val_by_reference"][best])


def leave_one_out_taus(per_seed: np.ndarray, inherited: np.ndarray | None = None) -> list[float]:
    """Per stand-alone seed ``s``: Kendall tau against the mean of the *other* seeds.

    ``per_seed`` is (seeds, architectures). Without ``inherited``: how one stand-alone run of every
    network ranks like the rest of the reference (what training each network alone once achieves);
    with it: how the supernet ranks like the same rest, so both are judged against identical references.
    """
    out = []
    for s in range(len(per_seed)):
        rest = np.delete(per_seed, s, axis=0).mean(axis=0)
        guess = per_seed[s] if inherited is None else inherited
        out.append(float(kendalltau(guess, rest).statistic))
    return out
