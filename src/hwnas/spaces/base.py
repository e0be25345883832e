"""The Space contract and the choice-based space every built-in space derives from.

An architecture ("arch") is a plain JSON value. For choice spaces it is a dict
``{dimension name: chosen value}``; a space may offer a text form (NB201 strings).
Strategies work on integer *genes* (one index per dimension), which makes
sampling, mutation, crossover and predictor encodings generic and vectorised.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hwnas.core.errors import InvalidArchitecture

Arch = Any  # a JSON value: dict for choice spaces


@dataclass(frozen=True)
class Dimension:
    """One searchable choice: a name and its allowed values (JSON scalars)."""

    name: str
    choices: tuple

    def __post_init__(self) -> None:
        if len(self.choices) < 1:
            raise ValueError(f"dimension {self.name!r} needs at least one choice")
        if len(set(self.choices)) != len(self.choices):
            raise ValueError(f"dimension {self.name!r} has repeated choices: {self.choices}")

    @property
    def size(self) -> int:
        return len(self.choices)

    def index(self, value: Any) -> int:
        try:
            return self.choices.index(value)
        except ValueError:
            raise InvalidArchitecture(
                f"{self.name}={value!r} is not allowed; choose one of {list(self.choices)}"
            ) from None


class ChoiceSpace:
    """A search space made of independent categorical dimensions.

    Subclasses may override :meth:`canonical` (merge equivalent architectures),
    :meth:`features` (extra predictor features) and :meth:`parse`/:meth:`format`
    (a text form). Everything else is generic. What a space knows beyond that
    (a layer list for cost models, views for quality and cost predictors) it
    declares by implementing a protocol of :mod:`hwnas.spaces.protocols`.
    """

    name: str = "choices"

    def __init__(self, dimensions: Sequence[Dimension]):
        if not dimensions:
            raise ValueError("a space needs at least one dimension")
        names = [d.name for d in dimensions]
        if len(set(names)) != len(names):
            raise ValueError(f"dimension names repeat: {names}")
        self.dimensions: tuple[Dimension, ...] = tuple(dimensions)
        self.cardinalities = np.array([d.size for d in self.dimensions], dtype=np.int64)
        self._offsets = np.concatenate([[0], np.cumsum(self.cardinalities)[:-1]])

    # ------------------------------------------------------------------ identity
    def describe(self) -> dict:
        """A JSON description that identifies the space (stored with a study)."""
        return {"name": self.name, "dimensions": {d.name: list(d.choices) for d in self.dimensions}}

    @property
    def size(self) -> int:
        return int(np.prod(self.cardinalities.astype(object)))

    # ------------------------------------------------------------------ validation
    def validate(self, arch: Arch) -> dict:
        """Return ``arch`` as a normalised dict, or raise InvalidArchitecture saying why."""
        if isinstance(arch, str):
            arch = self.parse(arch)
        if not isinstance(arch, dict):
            raise InvalidArchitecture(f"an architecture of space {self.name!r} is a dict, got {type(arch).__name__}")
        expected = [d.name for d in self.dimensions]
        missing = [n for n in expected if n not in arch]
        extra = [n for n in arch if n not in expected]
        if missing or extra:
            raise InvalidArchitecture(
                f"architecture for space {self.name!r}: missing {missing}, unknown {extra}; expected keys {expected}"
            )
        out = {}
        for d in self.dimensions:
            d.index(arch[d.name])
            out[d.name] = arch[d.name]
        return out

    def canonical(self, arch: Arch) -> dict:
        """The representative of all architectures that compute the same function."""
        return self.validate(arch)

    def key(self, arch: Arch) -> str:
        """A stable string identifying the canonical architecture (cache and storage key)."""
        return self.format(self.canonical(arch))

    def parse(self, text: str) -> dict:
        try:
            value = json.loads(text)
        except json.JSONDecodeError as e:
            raise InvalidArchitecture(f"cannot parse architecture {text!r}: {e}") from None
        return self.validate(value)

    def format(self, arch: Arch) -> str:
        return json.dumps(self.validate(arch), sort_keys=True, separators=(",", ":"))

    # ------------------------------------------------------------------ genes
    def to_genes(self, arch: Arch) -> np.ndarray:
        arch = self.validate(arch)
        return np.array([d.index(arch[d.name]) for d in self.dimensions], dtype=np.int64)

    def from_genes(self, genes: Sequence[int]) -> dict:
        genes = np.asarray(genes)
        if genes.shape != (len(self.dimensions),):
            raise InvalidArchitecture(f"expected {len(self.dimensions)} genes, got shape {genes.shape}")
        if (genes < 0).any() or (genes >= self.cardinalities).any():
            raise InvalidArchitecture(f"genes {genes.tolist()} out of range {self.cardinalities.tolist()}")
        return {d.name: d.choices[int(g)] for d, g in zip(self.dimensions, genes)}

    def genes_matrix(self, archs: Sequence[Arch]) -> np.ndarray:
        if len(archs) == 0:
            return np.zeros((0, len(self.dimensions)), dtype=np.int64)
        return np.stack([self.to_genes(a) for a in archs])

    # ------------------------------------------------------------------ operators (vectorised on genes)
    def sample_genes(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return (rng.random((n, len(self.dimensions))) * self.cardinalities).astype(np.int64)

    def design_genes(self, genes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A strategy's initial design (rows drawn dimension by dimension, e.g. balanced), adjusted where the
        space knows members such draws would miss (:class:`~hwnas.spaces.quantized.QuantizedSpace`: uniform
        policies); default: unchanged, and no draw is made."""
        return genes

    def mutate_genes(self, genes: np.ndarray, rng: np.random.Generator, rate: float | None = None) -> np.ndarray:
        """Resample each gene with probability ``rate`` (default 1/dims); at least one gene changes per row."""
        genes = np.atleast_2d(np.array(genes, dtype=np.int64, copy=True))
        n, d = genes.shape
        rate = 1.0 / d if rate is None else rate
        mask = rng.random((n, d)) < rate
        forced = rng.integers(0, d, size=n)
        mask[np.arange(n), forced] = True
        mutable = self.cardinalities > 1
        mask &= mutable
        # draw a *different* value where mutating
        shift = 1 + (rng.random((n, d)) * np.maximum(self.cardinalities - 1, 1)).astype(np.int64)
        genes[mask] = ((genes + shift) % self.cardinalities)[mask]
        return genes

    def crossover_genes(self, a: np.ndarray, b: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Uniform crossover, row by row."""
        a, b = np.atleast_2d(a), np.atleast_2d(b)
        take = rng.random(a.shape) < 0.5
        return np.where(take, a, b)

    def sample(self, rng: np.random.Generator) -> dict:
        return self.from_genes(self.sample_genes(rng, 1)[0])

    def enumerate_genes(self, limit: int = 200_000) -> np.ndarray | None:
        """Every gene vector if the space has at most ``limit`` members, else None."""
        if self.size > limit:
            return None
        return np.array(list(itertools.product(*[range(c) for c in self.cardinalities])), dtype=np.int64)

    # ------------------------------------------------------------------ encodings
    def one_hot(self, genes: np.ndarray) -> np.ndarray:
        genes = np.atleast_2d(genes)
        out = np.zeros((genes.shape[0], int(self.cardinalities.sum())), dtype=np.float32)
        rows = np.arange(genes.shape[0])[:, None]
        out[rows, genes + self._offsets] = 1.0
        return out

    def features(self, genes: np.ndarray) -> np.ndarray:
        """Predictor features for gene rows; default: one-hot. Spaces add domain knowledge here."""
        return self.one_hot(genes)

    def encode(self, archs: Sequence[Arch]) -> np.ndarray:
        return self.features(self.genes_matrix(archs))

    def gene_codes(self, genes: np.ndarray) -> np.ndarray:
        """One integer per gene row: the genes read as a mixed-radix number (equal rows, equal codes)."""
        base = self.cardinalities.astype(np.int64)
        weights = np.cumprod(np.r_[1, base[::-1][:-1]])[::-1]
        return np.atleast_2d(np.asarray(genes, dtype=np.int64)) @ weights

    def canonical_genes(self, genes: np.ndarray) -> np.ndarray:
        """Canonicalise gene rows (vectorised where the subclass can)."""
        genes = np.atleast_2d(genes)
        return np.stack([self.to_genes(self.canonical(self.from_genes(g))) for g in genes])

    def function_genes(self, genes: np.ndarray) -> np.ndarray:
        """Gene rows reduced to the operations that can change the network's outputs.

        Two architectures with equal function genes compute the same function (their
        quality differs only by training noise); the one whose canonical (executed)
        form equals its function form runs the fewest operations, so it costs no more.
        Default: the canonical genes (a space with no dead computation). NB201 overrides
        it with its fully live edges: an edge out of a node that only receives zeros is
        executed (costs time) but feeds nothing.
        """
        return self.canonical_genes(genes)
