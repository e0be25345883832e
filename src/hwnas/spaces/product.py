"""Operators on the genes of a product space (:class:`~hwnas.spaces.protocols.BlockProduct`).

A product space's blocks that are one space (NB201 stages: every stage an NB201 cell) accept each
other's settings. :func:`copy_block` copies one such block's setting into another: the move that
repeats a cell found good at one stage at another, as hand-designed networks repeat their cells.
A gene-wise mutation reaches that setting only edge by edge, through settings a search rightly
avoids; a copy reaches it in one step.
"""

from __future__ import annotations

import numpy as np

from hwnas.spaces.protocols import BlockProduct
from hwnas.spaces.views import GENERIC


def _starts(space: BlockProduct) -> np.ndarray:
    return np.cumsum([0] + [len(b.cardinalities) for b in space.blocks])


def copy_pairs(space) -> list[tuple[int, int]]:
    """(source, destination) block pairs of ``space`` that are one space (none for a space that is no product)."""
    if not isinstance(space, BlockProduct):
        return []
    blocks = space.blocks
    return [(s, d) for s in range(len(blocks)) for d in range(len(blocks)) if s != d and blocks[s] is blocks[d]]


def one_block_space(space) -> bool:
    """Whether ``space`` is a product of two or more blocks that are all one space (NB201 stages)."""
    blocks = getattr(space, "blocks", ()) if isinstance(space, BlockProduct) else ()
    return len(blocks) >= 2 and all(b is blocks[0] for b in blocks)


def uniform_genes(space, limit: int, prune: bool = True) -> np.ndarray | None:
    """Every network of ``space`` holding one block setting at every block (its "diagonal"), canonical and
    distinct, when the blocks are one space of at most ``limit`` settings; else None. ``prune``: settings
    running an operation that feeds nothing are reduced to their function first (NB201: 9,445 of 15,625
    cells remain). Hand-designed networks repeat one cell; a search that has learned which cell is good
    reaches its repetition in one step."""
    if not one_block_space(space):
        return None
    blocks = space.blocks
    block = blocks[0]
    settings = block.enumerate_genes(limit)
    if settings is None:
        return None
    if prune:
        settings = block.function_genes(settings)
    settings = np.unique(block.canonical_genes(settings), axis=0)
    return np.unique(space.canonical_genes(np.tile(settings, (1, len(blocks)))), axis=0)


def feature_groups(space, view: str = GENERIC) -> list[np.ndarray] | None:
    """The column groups of a product space's encoding under ``view``: by the
    :class:`~hwnas.spaces.protocols.BlockProduct` contract its features are its blocks' side by side, so
    the columns of block ``i`` are group ``i``. ``view``: ``generic`` (``features``), a quality view
    (``quality_features``) or an executed-work view, optionally with its representative
    (``executed/own``; :class:`~hwnas.strategies.cost_views.CostViews`' names). None for a space that is
    no product of two or more blocks."""
    if not isinstance(space, BlockProduct) or len(space.blocks) < 2:
        return None
    widths = []
    for block in space.blocks:
        one = np.zeros((1, len(block.cardinalities)), dtype=np.int64)
        if view == GENERIC:
            X = block.features(one)
        elif view in getattr(block, "quality_views", ()):
            X = block.quality_features(view, one)
        else:
            X = block.executed_work(one, view.split("/")[0]).matrix
        widths.append(np.asarray(X).shape[1])
    edges = np.cumsum([0, *widths])
    return [np.arange(a, b) for a, b in zip(edges[:-1], edges[1:])]


def copy_block(space, genes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each row with one block's setting copied into another block of the same space (a pair drawn per
    row from :func:`copy_pairs`); rows come back unchanged when the space has no such pair."""
    out = np.array(genes, dtype=np.int64, copy=True, ndmin=2)
    pairs = copy_pairs(space)
    if not pairs or not len(out):
        return out
    starts = _starts(space)
    drawn = rng.integers(0, len(pairs), len(out))
    for k, (s, d) in enumerate(pairs):
        rows = np.flatnonzero(drawn == k)
        out[rows, starts[d]:starts[d + 1]] = out[rows, starts[s]:starts[s + 1]]
    return out
