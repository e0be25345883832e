"""Network rewiring (DynaBERT, Hou et al. 2020): put a pre-trained transformer's most important attention
heads, MLP neurons and embedding channels first, so that width-sliced sub-networks keep them.

A supernet's sub-network takes the *first* ``h`` heads, ``f`` MLP neurons and ``d`` embedding channels
(:mod:`hwnas.spaces.elastic_attention`); a model pre-trained dense has no reason to hold its important units
there. :func:`rewire` measures each unit's importance on the target task and permutes the weights so that
they come in decreasing importance. The permutation keeps the dense model's function exactly (heads,
neurons and residual channels are reordered consistently in every tensor that reads or writes them; layer
norm is invariant to a reordering of its features), so only what the slices hold changes.

Importance is first-order, as DynaBERT's: for a unit with output ``a`` (a head's context, a neuron's
activation, a residual channel after the embedding and after each layer, a pooler feature), the expected
``|sum(a * dL/da)|`` per sample over the target task's training samples: the loss change when that unit is
masked, to first order. The loss needs a classifier for the target task, and InstaTune's is new; a linear
probe fitted on the frozen body's features stands in for it while importance is measured, and the
network's own classifier is put back afterwards.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from hwnas.core.errors import ConfigError
from hwnas.spaces.trainable import Supernet

#: per space: supernet parameter name pattern -> ((axis, what the axis holds), ...); ``heads.{i}`` and
#: ``neurons.{i}`` are those of layer ``i`` (the pattern's group), ``channels`` the residual stream,
#: ``pooled`` the text encoder's pooler outputs
_BLOCK = (
    (r"blocks\.(\d+)\.attn\.[qkv]\.weight", ((0, "heads"), (1, "channels"))),
    (r"blocks\.(\d+)\.attn\.[qkv]\.bias", ((0, "heads"),)),
    (r"blocks\.(\d+)\.attn\.out\.weight", ((0, "channels"), (1, "heads"))),
    (r"blocks\.(\d+)\.attn\.out\.bias", ((0, "channels"),)),
    (r"blocks\.(\d+)\.norm[12]\.(?:weight|bias)", ((0, "channels"),)),
    (r"blocks\.(\d+)\.mlp\.fc1\.weight", ((0, "neurons"), (1, "channels"))),
    (r"blocks\.(\d+)\.mlp\.fc1\.bias", ((0, "neurons"),)),
    (r"blocks\.(\d+)\.mlp\.fc2\.weight", ((0, "channels"), (1, "neurons"))),
    (r"blocks\.(\d+)\.mlp\.fc2\.bias", ((0, "channels"),)),
)
AXES = {
    "text_encoder": _BLOCK + (
        (r"embed\.(?:tokens|positions)\.weight", ((1, "channels"),)),
        (r"embed\.norm\.(?:weight|bias)", ((0, "channels"),)),
        (r"pooler\.weight", ((0, "pooled"), (1, "channels"))),
        (r"pooler\.bias", ((0, "pooled"),)),
        (r"head\.weight", ((1, "pooled"),)),
        (r"head\.bias", ()),
    ),
    "vit": _BLOCK + (
        (r"embed\.(?:cls|positions)", ((2, "channels"),)),
        (r"embed\.patch\.(?:weight|bias)", ((0, "channels"),)),
        (r"norm\.(?:weight|bias)", ((0, "channels"),)),
        (r"head\.weight", ((1, "channels"),)),
        (r"head\.bias", ()),
    ),
}


@dataclass
class Rewiring:
    """Unit importances (one tensor per key of :data:`AXES`' axes, ``heads.{i}`` per layer) and the order
    :func:`rewire` put the units in (most important first)."""

    importance: dict[str, torch.Tensor]
    order: dict[str, torch.Tensor]

    def summary(self) -> str:
        moved = sum(int((o != torch.arange(len(o))).sum()) for o in self.order.values())
        units = sum(len(o) for o in self.order.values())
        return f"rewired: {moved} of {units} heads, neurons and channels moved (most important first)"


def can_rewire(net: Supernet) -> bool:
    """Whether :func:`rewire` knows ``net``'s layout (a transformer space's supernet, not a few-shot split)."""
    return net.space.name in AXES and hasattr(net, "blocks") and hasattr(net, "head")


def _axes(space_name: str, name: str) -> list[tuple[int, str]]:
    if space_name not in AXES:
        raise ConfigError(f"supernet.init.rewire: the {space_name!r} space cannot be rewired; spaces that can: "
                          f"{sorted(AXES)}")
    for pattern, axes in AXES[space_name]:
        m = re.fullmatch(pattern, name)
        if m:
            layer = m.group(1) if m.groups() else None
            return [(axis, kind if kind in ("channels", "pooled") else f"{kind}.{layer}") for axis, kind in axes]
    raise ConfigError(f"supernet.init.rewire: no rule for parameter {name!r} of the {space_name!r} space")


def permute(space_name: str, tensors: dict[str, torch.Tensor], order: dict[str, torch.Tensor],
            head_dim: int) -> dict[str, torch.Tensor]:
    """``tensors`` (supernet names) with every axis holding heads, neurons or channels reordered by ``order``
    (new position ``j`` holds old unit ``order[key][j]``); a head stands for its ``head_dim`` rows."""
    out = {}
    for name, t in tensors.items():
        for axis, key in _axes(space_name, name):
            idx = order[key]
            if key.startswith("heads."):
                idx = (idx[:, None] * head_dim + torch.arange(head_dim)).flatten()
            t = t.index_select(axis, idx.to(t.device))
        out[name] = t
    return out


def _probe(net: Supernet, x: torch.Tensor, y: torch.Tensor, arch: dict, steps: int) -> dict[str, torch.Tensor]:
    """A linear classifier fitted on the frozen network's head inputs (full-batch Adam, from zero)."""
    seen = []
    hook = net.head.register_forward_hook(lambda m, args, out: seen.append(args[0].detach()))
    try:
        with torch.no_grad():
            for i in range(0, len(x), 512):
                net(x[i:i + 512], arch)
    finally:
        hook.remove()
    feats = torch.cat(seen)
    w = torch.zeros(net.head.weight.shape[0], feats.shape[-1], requires_grad=True)
    b = torch.zeros(net.head.bias.shape, requires_grad=True)
    opt = torch.optim.Adam([w, b], lr=0.05)
    for _ in range(steps):
        opt.zero_grad()
        F.cross_entropy(F.linear(feats, w, b), y).backward()
        opt.step()
    return {"head.weight": w.detach(), "head.bias": b.detach()}


def importance(net: Supernet, x: torch.Tensor, y: torch.Tensor, probe: bool = True,
               batch_size: int = 256) -> dict[str, torch.Tensor]:
    """First-order importance of every head, MLP neuron, residual channel (and pooler output) of ``net``'s
    largest network on the samples ``x, y``, its classifier replaced by a linear probe (module docstring);
    ``probe=False`` uses the classifier as it is (one already fitted to the task, e.g. by :func:`probe_head`)."""
    arch = net.space.largest()
    was_training = net.training
    net.eval()
    fitted = _probe(net, x, y, arch, 300) if probe else None
    saved = {k: v.detach().clone() for k, v in net.head.state_dict().items()}
    acts: dict[str, torch.Tensor] = {}

    def keep(key, of_input):
        def hook(module, args, out):
            acts[key] = args[0] if of_input else out
        return hook

    hooks = [net.embed.register_forward_hook(keep("channels.embed", False))]
    for i, block in enumerate(net.blocks):
        hooks += [block.attn.out.register_forward_hook(keep(f"heads.{i}", True)),
                  block.mlp.fc2.register_forward_hook(keep(f"neurons.{i}", True)),
                  block.register_forward_hook(keep(f"channels.{i}", False))]
    if hasattr(net, "pooler"):
        hooks.append(net.pooler.register_forward_hook(keep("pooled", False)))
    scores: dict[str, torch.Tensor] = {}
    head_dim = net.space.head_dim
    try:
        if fitted is not None:
            with torch.no_grad():
                net.head.weight.copy_(fitted["head.weight"])
                net.head.bias.copy_(fitted["head.bias"])
        for i in range(0, len(x), batch_size):
            acts.clear()
            loss = F.cross_entropy(net(x[i:i + batch_size], arch), y[i:i + batch_size], reduction="sum")
            keys = list(acts)
            grads = torch.autograd.grad(loss, [acts[k] for k in keys])
            for k, a, g in zip(keys, (acts[k] for k in keys), grads):
                ga = (a * g).detach()
                ga = ga.sum(1) if ga.dim() == 3 else ga  # over tokens: [batch, units]
                if k.startswith("heads."):
                    ga = ga.unflatten(-1, (-1, head_dim)).sum(-1)
                key = "channels" if k.startswith("channels.") else k
                scores[key] = scores.get(key, 0) + ga.abs().sum(0)
    finally:
        for h in hooks:
            h.remove()
        with torch.no_grad():
            net.head.weight.copy_(saved["weight"])
            net.head.bias.copy_(saved["bias"])
        net.zero_grad(set_to_none=True)
        net.train(was_training)
    return {k: v / len(x) for k, v in scores.items()}


def _subset(x: torch.Tensor, y: torch.Tensor, samples: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    if len(x) <= samples:
        return x, y
    pick = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[:samples]
    return x[pick], y[pick]


def probe_head(net: Supernet, x: torch.Tensor, y: torch.Tensor, samples: int = 2000, seed: int = 0) -> None:
    """Replace ``net``'s classifier by a linear probe fitted on its frozen largest network's features
    (the first stage of LP-FT, Kumar et al. 2022)."""
    x, y = _subset(x, y, samples, seed)
    probe = _probe(net, x, y, net.space.largest(), 300)
    with torch.no_grad():
        net.head.weight.copy_(probe["head.weight"])
        net.head.bias.copy_(probe["head.bias"])


def rewire(net: Supernet, x: torch.Tensor, y: torch.Tensor, samples: int = 2000, seed: int = 0,
           probe: bool = True) -> Rewiring:
    """Reorder ``net``'s heads, MLP neurons and channels in place, most important on the target task's
    samples ``x, y`` first (``samples`` of them drawn with ``seed``); its largest network's function is kept.
    ``probe=False``: the classifier already fits the task (:func:`probe_head`) and measures importance."""
    x, y = _subset(x, y, samples, seed)
    imp = importance(net, x, y, probe)
    order = {k: torch.argsort(v, descending=True, stable=True) for k, v in imp.items()}
    state = {k: v.detach() for k, v in net.named_parameters()}
    new = permute(net.space.name, state, order, net.space.head_dim)
    with torch.no_grad():
        for k, p in net.named_parameters():
            p.copy_(new[k])
    return Rewiring(imp, order)
