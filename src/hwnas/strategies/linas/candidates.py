"""Where a batch is picked from: the enumerated space (or catalog), or an inner search on the predictions.

:class:`EnumeratedPool` holds every canonical architecture of a space small enough to enumerate
(NB201: 15,625 cells, 12,205 distinct), or of the evaluator's catalog when a table holds only part
of the space, encoded once; told architectures leave it. :class:`InnerSearch` serves spaces too big
to enumerate: the candidates are every child of an NSGA-II run on the surrogates' mean predictions.
Either way every candidate is predicted in one vectorised call per surrogate.

:func:`redundant_rows` finds cells that execute an operation feeding nothing while the cell without
it is available: both compute the same function
(:meth:`~hwnas.spaces.base.ChoiceSpace.function_genes`), so the one running more costs more for the
same quality, dominated by construction (on NB201, 2,760 of the 12,205 cells).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from hwnas.core.trial import Trial
from hwnas.spaces.base import ChoiceSpace
from hwnas.strategies.linas.models import Candidates, Encoded
from hwnas.strategies.random import fresh_genes
from hwnas.strategies.ranking import best_order, binary_tournament, rank_and_crowding, survivors


def balanced_design(cardinalities: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` gene rows in which every choice of every dimension appears equally often (a random Latin design)."""
    cols = [rng.permutation(np.resize(np.arange(c), n)) for c in cardinalities]
    return np.stack(cols, axis=1).astype(np.int64)


def redundant_rows(space: ChoiceSpace, canon: np.ndarray) -> np.ndarray:
    """Mask of canonical rows that execute an operation feeding nothing while the row without it is among ``canon``."""
    fn = space.canonical_genes(space.function_genes(canon))
    extra = ~(fn == canon).all(axis=1)
    codes = space.gene_codes(canon)
    return extra & np.isin(space.gene_codes(fn), codes)


class EnumeratedPool:
    """Every distinct canonical row of ``genes`` (less the redundant ones when ``prune``), encoded once."""

    def __init__(self, space: ChoiceSpace, genes: np.ndarray, prune: bool):
        self.space = space
        canon = np.unique(space.canonical_genes(genes), axis=0)
        if prune:
            canon = canon[~redundant_rows(space, canon)]
        self.genes = canon
        self.encoded = Encoded(canon, space.features(canon), fixed=True)
        self._index = dict(zip(space.gene_codes(canon).tolist(), range(len(canon))))
        self.alive = np.ones(len(canon), dtype=bool)

    def __len__(self) -> int:
        return len(self.genes)

    def tell(self, trials: Sequence[Trial]) -> None:
        """Told architectures are no longer candidates."""
        if not trials:
            return
        canon = self.space.canonical_genes(self.space.genes_matrix([t.arch for t in trials]))
        for code in self.space.gene_codes(canon).tolist():
            i = self._index.get(code)
            if i is not None:
                self.alive[i] = False

    def candidates(self) -> Candidates:
        return Candidates(self.encoded, np.flatnonzero(self.alive))


class InnerSearch:
    """Candidates from an NSGA-II run of ``generations`` generations of ``population`` on predicted objectives."""

    def __init__(self, population: int = 200, generations: int = 25):
        self.population, self.generations = int(population), int(generations)

    def candidates(self, strategy, trials: list[Trial], taken: set[str],
                   score: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]) -> Candidates:
        """``score(genes)``: predicted minimised objectives (n, d) and constraint violation (n,) of gene rows.

        Every child ever produced is a candidate, the final population first; rows told to
        ``strategy`` or in ``taken`` are dropped.
        """
        space, rng, P = strategy.space, strategy.rng, self.population
        seen_genes = space.genes_matrix([t.arch for t in trials])
        F_seen = strategy.objective_matrix(trials)
        elite = seen_genes[best_order(F_seen, strategy.violation(trials))[: P // 2]]
        pop = np.vstack([elite, space.sample_genes(rng, P - len(elite))])
        F, V = score(pop)
        produced = [pop]
        for _ in range(self.generations):
            rank, crowd = rank_and_crowding(F, V)
            a = pop[binary_tournament(rank, crowd, P, rng)]
            b = pop[binary_tournament(rank, crowd, P, rng)]
            kids = space.mutate_genes(space.crossover_genes(a, b, rng), rng)
            kF, kV = score(kids)
            produced.append(kids)
            pop, F, V = np.vstack([pop, kids]), np.vstack([F, kF]), np.concatenate([V, kV])
            keep = survivors(F, P, V)
            pop, F, V = pop[keep], F[keep], V[keep]
        genes = fresh_genes(strategy, np.vstack([pop] + produced[::-1]), taken)
        return Candidates(Encoded(genes, space.features(genes)))
