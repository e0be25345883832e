"""NSGA-II as an ask/tell strategy (Deb et al. 2002), on the space's own operators.

Parents are kept by (mu + lambda) survival: constrained non-dominated sorting
and crowding distance, both computed by pymoo (:mod:`hwnas.strategies.ranking`).
Offspring come from binary tournaments, the space's uniform crossover and its
mutation. The population is updated after every told batch, so the strategy
works with any batch size; with ``batch = population_size`` it is the
textbook generational algorithm.
"""

from __future__ import annotations

import numpy as np

from hwnas.core.errors import ConfigError
from hwnas.core.trial import Trial
from hwnas.spaces.base import Arch
from hwnas.strategies.base import Strategy
from hwnas.strategies.random import breed_unseen, random_unseen_genes
from hwnas.strategies.ranking import binary_tournament, rank_and_crowding, survivors


class NSGA2(Strategy):
    """Non-dominated sorting genetic algorithm II."""

    name = "nsga2"

    def __init__(self, population_size: int = 20, crossover_prob: float = 0.9, mutation_rate: float | None = None):
        if population_size < 2:
            raise ConfigError(f"nsga2: population_size must be >= 2, got {population_size}")
        if not 0.0 <= crossover_prob <= 1.0:
            raise ConfigError(f"nsga2: crossover_prob must be in [0, 1], got {crossover_prob}")
        self.population_size = int(population_size)
        self.crossover_prob = float(crossover_prob)
        self.mutation_rate = mutation_rate

    @property
    def preferred_batch(self) -> int:
        return self.population_size

    def options(self) -> dict:
        return {"population_size": self.population_size, "crossover_prob": self.crossover_prob,
                "mutation_rate": self.mutation_rate}

    def setup(self, space, objectives, constraints=(), seed=0) -> None:
        super().setup(space, objectives, constraints, seed)
        self.parents: list[Trial] = []

    def tell(self, trials) -> None:
        super().tell(trials)
        usable = [t for t in trials if t.ok and np.isfinite(t.values(self.objectives)).all()]
        merged = self.parents + usable
        if len(merged) > self.population_size:
            keep = survivors(self.objective_matrix(merged), self.population_size, self.violation(merged))
            merged = [merged[i] for i in sorted(keep)]
        self.parents = merged

    def ask(self, n: int) -> list[Arch]:
        n = max(int(n), 1)
        if len(self.parents) < self.population_size:
            return [self.space.from_genes(g) for g in random_unseen_genes(self, n)]
        genes = self.space.genes_matrix([t.arch for t in self.parents])
        rank, crowd = rank_and_crowding(self.objective_matrix(self.parents), self.violation(self.parents))

        def breed() -> np.ndarray:
            a = genes[binary_tournament(rank, crowd, 2 * n, self.rng)]
            b = genes[binary_tournament(rank, crowd, 2 * n, self.rng)]
            cross = self.rng.random(2 * n) < self.crossover_prob
            kids = np.where(cross[:, None], self.space.crossover_genes(a, b, self.rng), a)
            return self.space.mutate_genes(kids, self.rng, self.mutation_rate)

        return [self.space.from_genes(g) for g in breed_unseen(self, n, breed)]
