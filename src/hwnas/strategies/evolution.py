"""Regularized (aging) evolution, made multi-objective.

Real et al.'s regularized evolution keeps the most recent ``population_size``
trials; each child mutates the winner of a tournament among ``sample_size``
random members. With several objectives the tournament winner is the best
member of the sample by constrained Pareto rank, then crowding distance
(:mod:`hwnas.strategies.ranking`), so the population spreads along the front.
Failed trials never enter the population.
"""

from __future__ import annotations

import numpy as np

from hwnas.core.errors import ConfigError
from hwnas.spaces.base import Arch
from hwnas.strategies.base import Strategy
from hwnas.strategies.random import breed_unseen, random_unseen_genes
from hwnas.strategies.ranking import rank_and_crowding


class RegularizedEvolution(Strategy):
    """Aging evolution with Pareto-rank tournaments."""

    name = "evolution"
    preferred_batch = 10

    def __init__(self, population_size: int = 50, sample_size: int = 10, mutation_rate: float | None = None):
        if population_size < 2 or not 2 <= sample_size <= population_size:
            raise ConfigError(
                f"evolution: need population_size >= 2 and 2 <= sample_size <= population_size, "
                f"got {population_size} and {sample_size}"
            )
        self.population_size = int(population_size)
        self.sample_size = int(sample_size)
        self.mutation_rate = mutation_rate

    def options(self) -> dict:
        return {"population_size": self.population_size, "sample_size": self.sample_size,
                "mutation_rate": self.mutation_rate}

    def _population(self):
        done = [t for t in self.completed() if np.isfinite(t.values(self.objectives)).all()]
        return done[-self.population_size:]

    def ask(self, n: int) -> list[Arch]:
        n = max(int(n), 1)
        pop = self._population()
        if len(pop) < self.population_size:
            genes = random_unseen_genes(self, n)
            return [self.space.from_genes(g) for g in genes]
        genes = self.space.genes_matrix([t.arch for t in pop])
        F = self.objective_matrix(pop)
        cv = self.violation(pop)

        def breed() -> np.ndarray:
            parents = np.array([self._tournament(F, cv) for _ in range(2 * n)])
            return self.space.mutate_genes(genes[parents], self.rng, self.mutation_rate)

        return [self.space.from_genes(g) for g in breed_unseen(self, n, breed)]

    def _tournament(self, F: np.ndarray, cv: np.ndarray) -> int:
        idx = self.rng.choice(len(F), size=self.sample_size, replace=False)
        rank, crowd = rank_and_crowding(F[idx], cv[idx])
        best = np.lexsort((-crowd, rank))[0]
        return int(idx[best])
