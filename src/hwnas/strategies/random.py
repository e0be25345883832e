"""Random search: uniform samples from the space, never repeating an evaluated architecture.

The baseline every other strategy is reported beside ("random search is a strong baseline").
Also home of the two helpers every strategy uses to keep its proposals fresh.
"""

from __future__ import annotations

import numpy as np

from hwnas.spaces.base import Arch
from hwnas.strategies.base import Strategy


def seen_codes(strategy: Strategy) -> set:
    """Gene codes (:meth:`~hwnas.spaces.base.ChoiceSpace.gene_codes`) of the canonical architectures told to
    ``strategy``: the integer form of its ``seen`` keys, kept up to date as trials arrive (trials only grow)."""
    cache = strategy.__dict__.get("_seen_codes")
    if cache is None or cache[0] is not strategy.trials or cache[1] > len(strategy.trials):
        cache = strategy.__dict__["_seen_codes"] = [strategy.trials, 0, set()]
    trials, done, codes = cache
    if done < len(trials):
        space = strategy.space
        fresh = space.canonical_genes(strategy.genes_of(trials[done:]))
        codes.update(space.gene_codes(fresh).tolist())
        cache[1] = len(trials)
    return codes


def fresh_genes(strategy: Strategy, genes: np.ndarray, taken: set) -> np.ndarray:
    """Rows of ``genes`` whose canonical architecture is neither told to ``strategy`` nor in ``taken``
    (and, when the strategy is restricted to an evaluator's catalog, is in it).

    Order is kept, repeats dropped. Architectures are compared by the gene codes of their canonical
    rows (one integer each, equal exactly when their keys are); ``taken`` holds such codes, and the
    codes of the rows returned are added to it.
    """
    space = strategy.space
    genes = np.asarray(genes, dtype=np.int64).reshape(-1, len(space.cardinalities))
    if len(genes) == 0:
        return genes
    codes = space.gene_codes(space.canonical_genes(genes))
    allowed = getattr(strategy, "allowed_codes", None)
    inside = np.isin(codes, allowed) if allowed is not None else None  # the evaluator holds nothing for the rest
    seen = seen_codes(strategy)
    keep = []
    for i, code in enumerate(codes.tolist()):
        if (inside is None or inside[i]) and code not in seen and code not in taken:
            taken.add(code)
            keep.append(i)
    return genes[keep]


def random_unseen_genes(strategy: Strategy, n: int, taken: set | None = None, tries: int = 20) -> np.ndarray:
    """Up to ``n`` uniformly drawn gene rows, fresh in the sense of :func:`fresh_genes`.

    Fewer rows come back only when the space is (nearly) exhausted. A strategy restricted to
    an evaluator's catalog (:meth:`Strategy.attach`) draws among the catalog's architectures.
    """
    taken = set() if taken is None else taken
    allowed = getattr(strategy, "allowed", None)
    if allowed is not None:  # draw among the architectures the evaluator holds
        order = strategy.rng.permutation(len(allowed))
        parts, count = [], 0
        for start in range(0, len(order), max(4 * n, 64)):
            parts.append(fresh_genes(strategy, allowed[order[start:start + max(4 * n, 64)]], taken)[: n - count])
            count += len(parts[-1])
            if count >= n:
                break
        return np.vstack(parts) if parts else np.zeros((0, len(strategy.space.cardinalities)), dtype=np.int64)
    parts, count = [], 0
    for _ in range(tries):
        draw = fresh_genes(strategy, strategy.space.sample_genes(strategy.rng, max(2 * (n - count), 8)), taken)
        parts.append(draw[: n - count])
        count += len(parts[-1])
        if count >= n:
            break
    if not parts:
        return np.zeros((0, len(strategy.space.cardinalities)), dtype=np.int64)
    return np.vstack(parts)


def breed_unseen(strategy: Strategy, n: int, breed, attempts: int = 10) -> np.ndarray:
    """``n`` fresh gene rows from ``breed()`` (called up to ``attempts`` times), topped up at random.

    The shared tail of the evolutionary strategies: offspring that repeat an
    evaluated architecture are dropped, and if breeding keeps producing repeats
    (a converged population) uniform samples fill the batch.
    """
    taken: set = set()
    out = np.zeros((0, len(strategy.space.cardinalities)), dtype=np.int64)
    for _ in range(attempts):
        out = np.vstack([out, fresh_genes(strategy, breed(), taken)])[:n]
        if len(out) >= n:
            break
    if len(out) < n:
        out = np.vstack([out, random_unseen_genes(strategy, n - len(out), taken)])
    return out


class RandomSearch(Strategy):
    """Uniform random sampling of unseen architectures."""

    name = "random"
    preferred_batch = 10

    def ask(self, n: int) -> list[Arch]:
        return [self.space.from_genes(g) for g in random_unseen_genes(self, max(n, 1))]
