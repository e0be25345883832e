"""A compression policy in the search space: any trainable space plus one precision per quantizable block.

:class:`QuantizedSpace` wraps a trainable space and adds a dimension ``bits.<block>`` per block the base
space declares (``precision_blocks()``; a space that declares none is one block, ``net``), with the
precisions the target executes natively (:mod:`hwnas.compress.policy`). Strategies and storage see policy
genes as architecture genes; :meth:`~QuantizedSpace.canonical` merges the policies of blocks the
sub-network does not run (they take the first precision), so two architectures that differ only there
are one. The supernet is the base space's (the policy changes no trained weight); the layer list is the
base one with each layer's ``w_bits`` / ``a_bits`` set from its block's precision (``w4a8``: 4 and 8),
and the workload builds the ONNX model the policy deploys (:func:`QuantizedSpace.deployable`: fp32, or
statically quantized), so a measured latency is the latency of the file that would be deployed, fp32 and
int8 alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import torch

from hwnas.compress.policy import check_precisions, widths_of
from hwnas.core.errors import ConfigError, InvalidArchitecture
from hwnas.core.layers import Layer, Workload
from hwnas.spaces.base import Arch, ChoiceSpace, Dimension
from hwnas.spaces.trainable import Supernet, TrainableSpace

#: prefix of the policy dimensions
PREFIX = "bits."
#: the one block of a space that declares none, or of a per-network policy
WHOLE = "net"
#: how a policy is split: one precision per block, or one for the whole network
PER = ("block", "network")


class QuantizedSpace(TrainableSpace):
    """``base``'s dimensions plus ``bits.<block>`` over ``precisions`` (checked against ``target``)."""

    name = "quantized"

    def __init__(self, base: TrainableSpace, precisions: Sequence[str] = ("int8", "fp32"), per: str = "block",
                 target: str = "onnxruntime"):
        if isinstance(base, QuantizedSpace) or not isinstance(base, TrainableSpace):
            raise ConfigError(f"compress.quantize: the space must be trainable and not already quantized, got "
                              f"{getattr(base, 'name', type(base).__name__)!r}")
        if per not in PER:
            raise ConfigError(f"compress.quantize.per: {per!r} unknown; allowed {list(PER)}")
        self.base, self.per, self.target = base, per, target
        self.precisions = check_precisions(precisions, target)
        self.input_shape, self.num_classes = base.input_shape, base.num_classes
        declared = getattr(base, "precision_blocks", None)
        self.policy_blocks: tuple[str, ...] = tuple(declared()) if (declared is not None and per == "block") else (WHOLE,)
        self._n_base = len(base.dimensions)
        self._running_memo: dict[bytes, np.ndarray] = {}  # base gene row -> the blocks it runs
        ChoiceSpace.__init__(self, [*base.dimensions, *(Dimension(PREFIX + b, self.precisions) for b in self.policy_blocks)])

    def options(self) -> dict:
        return {"base": self.base.describe(), "precisions": list(self.precisions), "per": self.per,
                "target": self.target}

    # ------------------------------------------------------------------ the two halves of an arch
    def validate(self, arch: Arch) -> dict:
        if isinstance(arch, dict):
            unknown = [k for k in arch if k.startswith(PREFIX) and k[len(PREFIX):] not in self.policy_blocks]
            if unknown:
                raise InvalidArchitecture(f"policy for {unknown}: no such block in space {self.base.name!r}; its "
                                          f"blocks are {list(self.policy_blocks)}, each one of {list(self.precisions)}")
        return super().validate(arch)

    def base_arch(self, arch: Arch) -> dict:
        """The architecture without its policy (an arch of :attr:`base`)."""
        arch = self.validate(arch)
        return {d.name: arch[d.name] for d in self.base.dimensions}

    def running_blocks(self, base_arch: dict) -> dict[str, tuple[str, ...]]:
        """Blocks ``base_arch`` runs -> their top-level children in the extracted module."""
        children = getattr(self.base, "block_children", None)
        if children is None or self.per == "network":
            module = self.base.build(base_arch)
            return {WHOLE: tuple(n for n, _ in module.named_children())}
        return children(base_arch)

    def policy(self, arch: Arch) -> dict[str, str]:
        """The precision of each block ``arch`` runs."""
        arch = self.canonical(arch)
        return {b: arch[PREFIX + b] for b in self.running_blocks(self.base_arch(arch))}

    def with_policy(self, base_arch: dict, policy: dict[str, str] | str) -> dict:
        """``base_arch`` with ``policy`` (a block -> precision dict, or one precision for every block).

        A block the architecture does not run, or a precision outside the allowed set, is refused naming
        the block and the allowed values.
        """
        base_arch = self.base.canonical(base_arch)
        running = list(self.running_blocks(base_arch))
        if isinstance(policy, str):
            policy = dict.fromkeys(running, policy)
        extra = [b for b in policy if b not in running]
        if extra:
            raise InvalidArchitecture(f"policy for {extra}: this architecture has no such block; it runs "
                                      f"{running}")
        bad = {b: p for b, p in policy.items() if p not in self.precisions}
        if bad:
            raise InvalidArchitecture(f"policy {bad}: not allowed; each block takes one of {list(self.precisions)}")
        arch = dict(base_arch)
        for b in self.policy_blocks:
            arch[PREFIX + b] = policy.get(b, self.precisions[0])
        return self.canonical(arch)

    def canonical(self, arch: Arch) -> dict:
        arch = self.validate(arch)
        out = dict(self.base.canonical({d.name: arch[d.name] for d in self.base.dimensions}))
        running = set(self.running_blocks(out))
        for b in self.policy_blocks:
            out[PREFIX + b] = arch[PREFIX + b] if b in running else self.precisions[0]
        return out

    def canonical_genes(self, genes: np.ndarray) -> np.ndarray:
        genes = np.array(np.atleast_2d(genes), dtype=np.int64)
        base = self.base.canonical_genes(genes[:, :self._n_base])
        out = np.concatenate([base, genes[:, self._n_base:]], axis=1)
        out[:, self._n_base:][~self._running_mask(base)] = 0  # a per-network policy's one block always runs
        return out

    def _running_mask(self, base: np.ndarray) -> np.ndarray:
        """(rows, policy blocks): whether each row of base genes runs each block (kept per distinct row)."""
        memo = self._running_memo
        out = np.ones((len(base), len(self.policy_blocks)), dtype=bool)
        if self.policy_blocks == (WHOLE,):
            return out
        for r, row in enumerate(base):
            k = row.tobytes()
            if k not in memo:
                running = set(self.running_blocks(self.base.from_genes(row)))
                memo[k] = np.array([b in running for b in self.policy_blocks])
            out[r] = memo[k]
        return out

    def features(self, genes: np.ndarray) -> np.ndarray:
        """The base space's features and the policy's one-hot, plus what a policy's cost follows beyond its
        blocks one by one: the share of the running blocks at each precision, whether the policy is uniform at
        each precision, and the share of changes of precision between consecutive running blocks (each one a
        Quantize / Dequantize pair in the deployed model). A latency that only a uniform policy reaches (every
        block fp32 runs no quantization code at all) is one column away, not a sum of per-block effects."""
        genes = np.array(np.atleast_2d(genes), dtype=np.int64)
        base, policy = genes[:, :self._n_base], genes[:, self._n_base:]
        parts = [self.base.features(base), self.one_hot(genes)[:, self._policy_columns()]]
        if self.policy_blocks != (WHOLE,):
            running = self._running_mask(base)
            n_running = np.maximum(running.sum(axis=1), 1)
            shares = np.stack([((policy == p) & running).sum(axis=1) / n_running
                               for p in range(len(self.precisions))], axis=1)
            parts += [shares, (shares == 1.0).astype(np.float64)]
            changes = np.zeros(len(genes))
            masks, which = np.unique(running, axis=0, return_inverse=True)
            for m, mask in enumerate(masks):
                rows = np.flatnonzero(which.ravel() == m)
                changes[rows] = (np.diff(policy[np.ix_(rows, np.flatnonzero(mask))], axis=1) != 0).sum(axis=1)
            parts.append((changes / n_running)[:, None])
        return np.concatenate(parts, axis=1).astype(np.float64)

    def _policy_columns(self) -> np.ndarray:
        """The one-hot columns of the policy dimensions (after every base dimension's)."""
        first = int(self.cardinalities[:self._n_base].sum())
        return np.arange(first, int(self.cardinalities.sum()))

    def sample_genes(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Uniform draws of the architecture; the policy is uniform (every block the same precision) in half the
        rows and drawn block by block in the other half.

        Each boundary between an int8 and an fp32 block costs a Quantize/Dequantize pair, so the two uniform
        policies are the references every mixed one is measured against; block-by-block draws alone would
        almost never propose them (2 of 2^blocks).
        """
        return self.design_genes(super().sample_genes(rng, n), rng)

    def design_genes(self, genes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Half the rows (drawn at random) take a uniform policy, one precision drawn per row: as
        :meth:`sample_genes` draws, for a strategy's own initial design."""
        genes = np.array(np.atleast_2d(genes), dtype=np.int64, copy=True)
        uniform = rng.random(len(genes)) < 0.5
        genes[uniform, self._n_base:] = rng.integers(0, len(self.precisions), size=int(uniform.sum()))[:, None]
        return genes

    # ------------------------------------------------------------------ training, models, costs
    def build_supernet(self) -> Supernet:
        return self.base.build_supernet()

    def build(self, arch: Arch) -> torch.nn.Module:
        """The fp32 stand-alone module of the architecture (randomly initialised)."""
        return self.base.build(self.base_arch(arch))

    def fp32_children(self, arch: Arch) -> set[str]:
        """Top-level children of the extracted module that ``arch``'s policy keeps in fp32."""
        arch = self.canonical(arch)
        return {c for b, cs in self.running_blocks(self.base_arch(arch)).items() if arch[PREFIX + b] == "fp32"
                for c in cs}

    def is_float(self, arch: Arch) -> bool:
        """True when every block ``arch`` runs is fp32 (nothing to quantize)."""
        return all(p == "fp32" for p in self.policy(arch).values())

    def layers(self, arch: Arch) -> list[Layer]:
        arch = self.canonical(arch)
        child_bits = {c: widths_of(arch[PREFIX + b]) for b, cs in self.running_blocks(self.base_arch(arch)).items()
                      for c in cs}
        out = []
        for layer in self.base.layers(self.base_arch(arch)):
            w, a = child_bits.get(layer.name.split(".")[0], (32, 32))
            out.append(layer if (w, a) == (32, 32) else replace(layer, w_bits=w, a_bits=a))
        return out

    def deployable(self, arch: Arch, module: torch.nn.Module | None = None, calib: np.ndarray | None = None,
                   calibration=None) -> bytes:
        """The ONNX model ``arch``'s policy deploys: ``module`` (default: :meth:`build`, random weights) exported
        and statically quantized on ``calib`` (default: 32 seeded random inputs) unless every block is fp32."""
        from hwnas.compress.ptq import Calibration, quantize_onnx
        from hwnas.export.onnx import to_onnx_bytes

        arch = self.canonical(arch)
        with torch.random.fork_rng():
            torch.manual_seed(0)  # the same arch gives the same bytes (a latency cache keys on them)
            module = module if module is not None else self.build(arch)
        fp32 = to_onnx_bytes(module, (1, *self.input_shape))
        if self.is_float(arch):
            return fp32
        if self.target != "onnxruntime":
            raise ConfigError(f"a {self.target} policy has no ONNX Runtime model; only target onnxruntime deploys "
                              "to ONNX")
        if calib is None:
            calib = np.random.default_rng(0).standard_normal((32, *self.input_shape)).astype(np.float32)
        return quantize_onnx(fp32, calib, self.fp32_children(arch), calibration or Calibration())

    def workload(self, arch: Arch) -> Workload:
        arch = self.canonical(arch)
        return Workload(key=self.key(arch), layers=self.layers(arch), input_shape=(1, *self.input_shape),
                        build=lambda: self.deployable(arch))
