"""Start a supernet from pre-trained weights (InstaTune): hwnas checkpoints or Hugging Face model folders.

InstaTune (Sridhar et al., 2023) turns an off-the-shelf pre-trained model into a super-network while it
is fine-tuned: the supernet's largest sub-network starts as the pre-trained model, and the sandwich-rule
trainer (:mod:`hwnas.supernet.train`) makes the smaller ones work as it tunes on the target task.
:func:`load_pretrained` puts the weights in place:

* a file: an hwnas supernet checkpoint (:mod:`hwnas.supernet.checkpoint`) of a space of the same kind,
  e.g. a dense model pre-trained on another task; its tensors are loaded by name;
* a folder: a Hugging Face ``transformers`` model saved with ``save_pretrained`` (``config.json`` and
  ``model.safetensors``, or a sharded ``model.safetensors.index.json``), whose ``model_type`` selects a
  mapping onto the space's names (:data:`FAMILIES`: ``bert`` -> :mod:`hwnas.supernet.hf_bert`, ``vit`` ->
  :mod:`hwnas.supernet.hf_vit`). Tensors are read with ``safetensors``; ``transformers`` is not needed, and
  pickle files (``pytorch_model.bin``) are never read.

Everything is checked before any training: a tensor whose shape does not fit the space is refused naming
the parameter and both shapes, as are more heads, layers or another head size than the space allows. The
classifier is the one exception: when the class count differs (or ``new_head``) the supernet keeps its
freshly initialised head, and the report says so.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

from hwnas.core.errors import DataError
from hwnas.spaces.trainable import Supernet
from hwnas.supernet.checkpoint import read_metadata

#: Hugging Face ``model_type`` -> (module holding ``to_supernet``, the hwnas space it maps onto)
FAMILIES = {"bert": ("hwnas.supernet.hf_bert", "text_encoder"), "vit": ("hwnas.supernet.hf_vit", "vit")}
#: supernet parameters of the classifier: left at their initialisation when the class count differs
HEAD_PREFIX = "head."


@dataclass
class PretrainedReport:
    """What :func:`load_pretrained` did: where the weights came from and which were not taken."""

    source: str
    kind: str  # "hwnas" or the Hugging Face model_type
    loaded: list[str] = field(default_factory=list)
    fresh: list[str] = field(default_factory=list)  # supernet parameters kept at initialisation
    unused: list[str] = field(default_factory=list)  # checkpoint tensors not mapped

    def summary(self) -> str:
        out = f"pretrained: {len(self.loaded)} tensors from {self.kind} {self.source}"
        if self.fresh:
            out += f"; initialised fresh: {', '.join(self.fresh)}"
        if self.unused:
            out += f"; not used: {', '.join(self.unused[:6])}" + (" ..." if len(self.unused) > 6 else "")
        return out


def identity(path: str | Path) -> dict:
    """What identifies the pre-trained weights (for a supernet checkpoint's fingerprint): path and content hash."""
    path = Path(path)
    files = [path] if path.is_file() else sorted(p for p in path.iterdir()
                                                 if p.suffix in (".json", ".safetensors")) if path.is_dir() else []
    digest = hashlib.sha256()
    for f in files:
        digest.update(f.name.encode())
        digest.update(f.read_bytes())
    return {"pretrained": str(path), "sha256": digest.hexdigest()[:16]}


def read_hf_folder(path: Path) -> tuple[dict, dict[str, torch.Tensor]]:
    """``config.json`` and every tensor of a ``save_pretrained`` folder (single or sharded safetensors)."""
    cfg_file = path / "config.json"
    if not cfg_file.is_file():
        raise DataError(f"pretrained folder {path}: no config.json (a Hugging Face save_pretrained folder holds "
                        "config.json and model.safetensors)")
    try:
        config = json.loads(cfg_file.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise DataError(f"pretrained folder {path}: config.json unreadable ({e})") from None
    index = path / "model.safetensors.index.json"
    if (path / "model.safetensors").is_file():
        files = [path / "model.safetensors"]
    elif index.is_file():
        try:
            files = [path / f for f in sorted(set(json.loads(index.read_text())["weight_map"].values()))]
        except (OSError, json.JSONDecodeError, KeyError, AttributeError) as e:
            raise DataError(f"pretrained folder {path}: {index.name} unreadable ({e})") from None
    else:
        pickled = [p.name for p in path.glob("*.bin")]
        raise DataError(f"pretrained folder {path}: no model.safetensors" + (
            f" ({', '.join(pickled)} is pickle, which hwnas never loads: re-save the model with "
            "save_pretrained(..., safe_serialization=True))" if pickled else ""))
    tensors: dict[str, torch.Tensor] = {}
    for f in files:
        try:
            tensors.update(load_file(str(f)))
        except (OSError, SafetensorError) as e:
            raise DataError(f"pretrained weights {f}: not a readable safetensors file ({e})") from None
    return config, tensors


def _hf_weights(path: Path, net: Supernet) -> tuple[str, dict[str, torch.Tensor], list[str], list[str]]:
    import importlib

    config, tensors = read_hf_folder(path)
    model_type = config.get("model_type")
    if model_type not in FAMILIES:
        raise DataError(f"pretrained folder {path}: Hugging Face model_type {model_type!r} "
                        f"({', '.join(config.get('architectures') or []) or 'no architectures listed'}) is not "
                        f"supported; supported model types: {sorted(FAMILIES)} "
                        f"(BertModel / BertForSequenceClassification, ViTModel / ViTForImageClassification)")
    module, space_name = FAMILIES[model_type]
    if net.space.name != space_name:
        raise DataError(f"pretrained folder {path}: a {model_type!r} model maps onto the {space_name!r} space, "
                        f"but this supernet is {net.space.name!r}")
    mapped, fresh, unused = importlib.import_module(module).to_supernet(config, tensors, net.space, str(path))
    return model_type, mapped, fresh, unused


def _hwnas_weights(path: Path, net: Supernet) -> tuple[dict[str, torch.Tensor], list[str]]:
    md = read_metadata(path)
    theirs = md["space"].get("name")
    if theirs != net.space.name:
        raise DataError(f"pretrained checkpoint {path} holds a {theirs!r} supernet; this one is {net.space.name!r}")
    try:
        tensors = load_file(str(path))
    except (OSError, SafetensorError) as e:
        raise DataError(f"pretrained checkpoint {path}: tensors unreadable ({e})") from None
    model = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    return model, []


def load_pretrained(path: str | Path, net: Supernet, new_head: bool = False) -> PretrainedReport:
    """Put the pre-trained weights at ``path`` into ``net`` (module docstring); nothing changes when refused."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"supernet.init.pretrained: {path} does not exist")
    if path.is_dir():
        kind, weights, fresh, unused = _hf_weights(path, net)
    else:
        kind, fresh, unused = "hwnas", [], []
        weights, _ = _hwnas_weights(path, net)
    own = net.state_dict()
    for name in sorted(set(weights) - set(own)):
        unused.append(name)
        del weights[name]
    missing = sorted(set(own) - set(weights) - set(fresh))
    if missing and kind == "hwnas":
        raise DataError(f"pretrained checkpoint {path} lacks {missing[:5]} of this supernet "
                        f"({len(missing)} parameters missing)")
    fresh.extend(m for m in missing if m not in fresh)
    head_differs = any(n.startswith(HEAD_PREFIX) and weights[n].shape != own[n].shape for n in weights if n in own)
    for name in sorted(weights):
        if name.startswith(HEAD_PREFIX) and (new_head or head_differs):
            del weights[name]
            fresh.append(name)
        elif weights[name].shape != own[name].shape:
            raise DataError(f"pretrained {path}: parameter {name} has shape {tuple(weights[name].shape)} in the "
                            f"checkpoint but {tuple(own[name].shape)} in the space (space options "
                            f"{net.space.options()}); make the space's largest sub-network the pre-trained model")
    bad = [n for n, t in weights.items() if t.is_floating_point() and not torch.isfinite(t).all()]
    if bad:
        raise DataError(f"pretrained {path}: parameter {bad[0]} holds NaN or infinite values")
    with torch.no_grad():
        for name, t in weights.items():
            own[name].copy_(t.to(own[name].dtype))
    return PretrainedReport(str(path), kind, sorted(weights), sorted(set(fresh)), sorted(unused))


def check_heads(space, what: str, heads: int, hidden: int) -> None:
    """Refuse attention that the space cannot hold (more heads, another head size), naming the projection
    and both shapes (a matching shape alone could hide another split into heads)."""
    head_dim, d = hidden // heads, space.widths[-1]
    if heads > space.heads[-1] or head_dim != space.head_dim:
        raise DataError(f"pretrained {what}: parameter blocks.0.attn.q.weight holds {heads} heads of {head_dim} "
                        f"(shape ({heads * head_dim}, {hidden})) in the checkpoint, but the space allows at most "
                        f"{space.heads[-1]} heads of {space.head_dim} (shape ({space.heads[-1] * space.head_dim}, "
                        f"{d})); set space.options heads (largest {heads}) and head_dim {head_dim}")
    check_fits(space, what, "num_attention_heads (largest heads choice)", heads, space.heads[-1])


def check_fits(space, what: str, name: str, theirs, ours) -> None:
    """Refuse a pre-trained dimension the space cannot hold, naming the parameter and both values."""
    if theirs != ours:
        raise DataError(f"pretrained {what}: {name} is {theirs} in the checkpoint but {ours} in the space "
                        f"{space.name!r} (options {space.options()})")


class DenseView(nn.Module):
    """One sub-network of a supernet as a plain module (``forward(x)``), trained in place on the shared weights."""

    def __init__(self, net: Supernet, arch: dict):
        super().__init__()
        self.net, self.arch = net, arch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x, self.arch)


def pretrain_dense(net: Supernet, data, cfg, path: str | Path) -> Path:
    """Train ``net``'s largest sub-network alone on ``data`` (labels only, the stand-alone recipe) and save the
    supernet as an hwnas checkpoint at ``path``: a dense pre-trained model for :func:`load_pretrained`."""
    from hwnas.supernet.checkpoint import save_checkpoint
    from hwnas.supernet.standalone import train_standalone

    largest = net.space.largest()
    train_standalone(DenseView(net, largest), data, cfg, seed=cfg.seed)
    return save_checkpoint(path, net, meta={"dense": net.space.key(largest), "data": data.describe(),
                                            "training": cfg.model_dump()})


def check_encoder_config(space, what: str, config: dict) -> None:
    """Refuse a Hugging Face encoder config (BERT, ViT) the space cannot reproduce: heads and head size,
    depth, activation and layer-norm epsilon, each named with both values."""
    heads, hidden, layers = (int(config.get(k, 0)) for k in ("num_attention_heads", "hidden_size",
                                                              "num_hidden_layers"))
    if not heads or hidden % heads:
        raise DataError(f"pretrained {what}: config.json hidden_size {hidden} / num_attention_heads {heads} is "
                        "not a whole head size")
    check_heads(space, what, heads, hidden)
    check_fits(space, what, "num_hidden_layers (largest depths choice)", layers, space.max_depth)
    act = config.get("hidden_act", "gelu")
    if act != "gelu":
        raise DataError(f"pretrained {what}: hidden_act {act!r} is not supported (the space's MLP uses exact "
                        "'gelu')")
    eps = float(config.get("layer_norm_eps", 1e-12))
    if abs(eps - space.norm_eps) > 1e-3 * max(eps, space.norm_eps):
        raise DataError(f"pretrained {what}: layer_norm_eps is {eps} in the checkpoint but {space.norm_eps} in "
                        f"the space; set space.options.norm_eps: {eps}")


def rename(src: dict[str, torch.Tensor], top: dict[str, str], layer: dict[str, str],
           layer_prefixes: tuple[str, ...]) -> tuple[dict[str, torch.Tensor], set[str]]:
    """A Hugging Face encoder's tensors under the supernet's names, and the checkpoint names used.

    ``top`` maps module names outside the layers (``embeddings.LayerNorm`` -> ``embed.norm``), ``layer`` the
    modules of one layer (``attention.self.query`` -> ``attn.q``) found under each of ``layer_prefixes``
    followed by the layer index (``blocks.{i}.`` in the supernet); ``classifier`` becomes ``head``."""
    out: dict[str, torch.Tensor] = {}
    used: set[str] = set()
    for name, t in src.items():
        for old, new in top.items():
            if name == old or name.startswith(old + "."):
                out[new + name[len(old):]] = t
                used.add(name)
        for prefix in layer_prefixes:
            if name.startswith(prefix):
                i, rest = name[len(prefix):].split(".", 1)
                for old, new in layer.items():
                    if rest.startswith(old + "."):
                        out[f"blocks.{i}.{new}{rest[len(old):]}"] = t
                        used.add(name)
        if name.startswith("classifier."):
            out["head" + name[len("classifier"):]] = t
            used.add(name)
    return out, used
