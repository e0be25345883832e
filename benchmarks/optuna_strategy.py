"""Optuna's samplers as hwnas strategies, for benchmarks only (Optuna is not a dependency of hwnas).

``optuna_tpe`` (multi-objective TPE) and ``optuna_nsga2`` (Optuna's NSGA-II) search the space's
categorical dimensions through Optuna's ask/tell interface on an in-memory Optuna study. Each gene
is one ``suggest_categorical`` over the dimension's choice indices. The hwnas study canonicalises
proposals and serves repeats from its cache without telling; so a proposal whose canonical
architecture was already told is answered from the told values at once (Optuna learns it as
Optuna would on any benchmark), and only fresh ones are handed to the study.

Importing this module registers both names in :data:`hwnas.strategies.STRATEGIES`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hwnas.core.trial import Trial
from hwnas.strategies import STRATEGIES
from hwnas.strategies.base import Strategy

#: asks in a row that return only repeats before a batch is filled with fewer proposals
_MAX_REPEATS = 200


class OptunaStrategy(Strategy):
    """One Optuna sampler behind the ask/tell contract."""

    name = "optuna"
    sampler_name = ""
    preferred_batch = 1

    def setup(self, space, objectives, constraints=(), seed: int = 0) -> None:
        import optuna

        super().setup(space, objectives, constraints, seed)
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self._study = optuna.create_study(
            directions=["minimize"] * len(self.objectives),  # Trial.values turns every objective into a minimum
            sampler=self._sampler(seed),
        )
        self._pending: dict[str, list] = {}
        self._values: dict[str, list[float] | None] = {}

    def _sampler(self, seed: int):
        raise NotImplementedError

    def _suggest(self) -> tuple[str, dict, object]:
        trial = self._study.ask()
        genes = np.array([trial.suggest_categorical(d.name, list(range(d.size))) for d in self.space.dimensions])
        arch = self.space.from_genes(genes)
        key = self.space.format(self.space.canonical(arch))
        return key, arch, trial

    def ask(self, n: int) -> list[dict]:
        import optuna

        out, repeats = [], 0
        while len(out) < n and repeats < _MAX_REPEATS:
            key, arch, trial = self._suggest()
            if key in self._values:  # already evaluated: answer it as the benchmark's table would
                values = self._values[key]
                if values is None:
                    self._study.tell(trial, state=optuna.trial.TrialState.FAIL)
                else:
                    self._study.tell(trial, values)
                repeats += 1
                continue
            if key in self._pending:  # asked earlier in this batch or still in flight
                self._pending[key].append(trial)
                repeats += 1
                continue
            self._pending[key] = [trial]
            out.append(arch)
        return out or [arch]

    def tell(self, trials: Sequence[Trial]) -> None:
        import optuna

        super().tell(trials)
        for t in trials:
            values = list(t.values(self.objectives)) if t.ok else None
            self._values[t.key] = values
            for trial in self._pending.pop(t.key, []):
                if values is None:
                    self._study.tell(trial, state=optuna.trial.TrialState.FAIL)
                else:
                    self._study.tell(trial, values)

    def options(self) -> dict:
        return {"sampler": self.sampler_name}


@STRATEGIES.register("optuna_tpe")
class OptunaTPE(OptunaStrategy):
    name = "optuna_tpe"
    sampler_name = "TPESampler(multivariate=True)"

    def _sampler(self, seed: int):
        import optuna

        return optuna.samplers.TPESampler(seed=seed, multivariate=True)


@STRATEGIES.register("optuna_nsga2")
class OptunaNSGA2(OptunaStrategy):
    name = "optuna_nsga2"
    sampler_name = "NSGAIISampler(population_size=50)"

    def _sampler(self, seed: int):
        import optuna

        return optuna.samplers.NSGAIISampler(seed=seed, population_size=50)
