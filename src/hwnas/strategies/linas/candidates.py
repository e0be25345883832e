"""Where a batch is picked from: the enumerated space (or catalog), or an inner search on the predictions.

:class:`EnumeratedPool` holds every canonical architecture of a space small enough to enumerate
(NB201: 15,625 cells, 12,205 distinct), or of the evaluator's catalog when a table holds only part
of the space, encoded once; told architectures leave it. :class:`InnerSearch` serves spaces too big
to enumerate: local moves around the best evaluated architectures and the children of an NSGA-II run
on the surrogates' mean predictions, each new row encoded and predicted once. In a product space whose
blocks are one space (NB201 stages), block copies (:func:`~hwnas.spaces.product.copy_block`) join the
moves and a share of each generation's children.
Either way every candidate is predicted in one vectorised call per surrogate and batch of rows.

:func:`redundant_rows` finds cells that execute an operation feeding nothing while the cell without
it is available: both compute the same function
(:meth:`~hwnas.spaces.base.ChoiceSpace.function_genes`), so the one running more costs more for the
same quality, dominated by construction (on NB201, 2,760 of the 12,205 cells).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from hwnas.core.trial import Trial
from hwnas.learn.surrogate import BOUNDED_ROWS
from hwnas.spaces.base import ChoiceSpace
from hwnas.spaces.product import copy_block, copy_pairs
from hwnas.strategies.linas.models import Candidates, Encoded, Predictions
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
    """Candidates of a space too big to enumerate: local moves around the best evaluated architectures
    (mutations of them, crossovers between them, and ``copies`` block copies of each where the space's
    blocks allow), then an NSGA-II run of ``generations`` generations of ``population`` on the
    surrogates' mean predictions, started from those architectures and moves, ``copy_share`` of each
    generation's children with a block copied.

    Every row produced is reduced to its function form when ``prune`` (a row running an operation
    that feeds nothing costs more for the same function), canonicalised, and kept only when new (told
    architectures, rows in ``taken`` and rows produced before are compared by gene code). Each batch of
    new rows is encoded once and predicted once by every metric model; those predictions are the
    candidates' predictions the batch is picked with, so the cost of a call grows with
    ``population x generations``, never with the space.

    A prediction's cost grows with the evaluated rows ``n``: a Gaussian process compares each candidate
    with every one of them (``n``) and solves for its variance (``n^2``). Beyond ``rows_full`` evaluated
    rows, a call runs ``generations x rows_full / n`` generations (at least ``min_generations``) and
    starts from the last call's final population as well: the search on the predictions continues from
    one ask to the next (five new rows move the surrogates little), and the predicted rows per ask
    shrink as each row's prediction grows dearer.
    """

    def __init__(self, population: int = 64, generations: int = 8, prune: bool = True, copies: int = 3,
                 copy_share: float = 0.25, rows_full: int = BOUNDED_ROWS, min_generations: int = 3):
        self.population, self.generations, self.prune = int(population), int(generations), bool(prune)
        self.copies, self.copy_share = int(copies), float(copy_share)
        self.rows_full, self.min_generations = int(rows_full), int(min_generations)
        self._last: np.ndarray | None = None  # the last call's final population

    def reset(self) -> None:
        """Forget the last call's population (a new search starts)."""
        self._last = None

    def generations_at(self, n: int) -> int:
        """Generations of a call with ``n`` evaluated rows."""
        if n <= self.rows_full:
            return self.generations
        return max(self.min_generations, round(self.generations * self.rows_full / n))

    def _reduce(self, space: ChoiceSpace, genes: np.ndarray) -> np.ndarray:
        return space.canonical_genes(space.function_genes(genes) if self.prune else genes)

    def candidates(self, strategy, trials: list[Trial], taken: set,
                   predict: Callable[[np.ndarray], tuple[Encoded, Predictions]],
                   score: Callable[[Predictions], tuple[np.ndarray, np.ndarray]],
                   starts: np.ndarray | None = None) -> tuple[Candidates, Predictions | None]:
        """The candidates and their predictions (None when there is no candidate).

        ``predict(genes)``: the rows encoded and every metric's member predictions of them;
        ``score(pred)``: predicted minimised objectives (n, d) and constraint violation (n,) (the fitness);
        ``starts``: rows the strategy adds to the first generation's moves.
        """
        space, rng, P = strategy.space, strategy.rng, self.population
        copies = bool(copy_pairs(space))
        encoded: list[Encoded] = []
        preds: list[Predictions] = []

        def new(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            rows = fresh_genes(strategy, self._reduce(space, rows), taken)
            if not len(rows):
                return rows, np.zeros((0, len(strategy.objectives))), np.zeros(0)
            enc, pred = predict(rows)
            encoded.append(enc)
            preds.append(pred)
            return (rows, *score(pred))

        seen_genes = strategy.genes_of(trials)
        elite = seen_genes[best_order(strategy.objective_matrix(trials), strategy.violation(trials), P // 2)]
        _, elite_pred = predict(elite)
        pop, (F, V) = elite, score(elite_pred)
        best = elite[: max(P // 4, 2)]
        moves = [space.mutate_genes(np.repeat(best, 2, axis=0), rng),
                 space.crossover_genes(best[rng.integers(0, len(best), P // 2)],
                                       best[rng.integers(0, len(best), P // 2)], rng),
                 space.sample_genes(rng, max(P - len(elite), 0))]
        if copies:
            moves.append(copy_block(space, np.repeat(best, self.copies, axis=0), rng))
        generations = self.generations_at(len(trials))
        if starts is not None and len(starts):
            moves.append(starts)
        if generations < self.generations and self._last is not None:
            moves.append(self._last)  # continue from the last call's population
        moves = np.vstack(moves)
        kids, kF, kV = new(moves)
        pop, F, V = np.vstack([pop, kids]), np.vstack([F, kF]), np.concatenate([V, kV])
        keep = survivors(F, P, V)
        pop, F, V = pop[keep], F[keep], V[keep]
        for _ in range(generations):
            rank, crowd = rank_and_crowding(F, V)
            a = pop[binary_tournament(rank, crowd, P, rng)]
            b = pop[binary_tournament(rank, crowd, P, rng)]
            kids = space.mutate_genes(space.crossover_genes(a, b, rng), rng)
            if copies:
                q = int(len(kids) * self.copy_share)
                kids[:q] = copy_block(space, kids[:q], rng)
            kids, kF, kV = new(kids)
            pop, F, V = np.vstack([pop, kids]), np.vstack([F, kF]), np.concatenate([V, kV])
            keep = survivors(F, P, V)
            pop, F, V = pop[keep], F[keep], V[keep]
        self._last = pop
        if not encoded:
            return Candidates(Encoded(np.zeros((0, len(space.cardinalities)), dtype=np.int64), np.zeros((0, 0)))), None
        joined = Encoded(np.vstack([e.genes for e in encoded]), np.vstack([e.X for e in encoded]))
        return Candidates(joined), Predictions.join(preds)
