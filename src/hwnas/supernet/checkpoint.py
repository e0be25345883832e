"""Supernet checkpoints as safetensors: model tensors, optimizer tensors, JSON metadata. Never pickle.

Metadata records the format and its version, the space description (name,
dimensions, options) and the trainer's state (epoch, settings, history).
Loading refuses, with a message naming the file, a file that is not a readable
safetensors checkpoint, one of another version (version 1, format
``hwnas-supernet-1``, was written before the supernet options were pruned: its
settings and space options are not today's, so it is refused, not misread),
one written for another space or other options, and one whose
tensors do not match the network (missing, unexpected or differently shaped),
so wrong weights are never used silently. Writes go to a temporary file that
replaces the old one atomically: a kill mid-write leaves the previous checkpoint.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from hwnas.core.errors import DataError
from hwnas.spaces.trainable import Supernet

FORMAT = "hwnas-supernet"
#: the checkpoint layout this code writes and reads (in the metadata as ``version``)
VERSION = 2
_LEGACY = {"hwnas-supernet-1": 1}  # formats that carried their version in the name


def save_checkpoint(path: str | Path, net: Supernet, optimizer: torch.optim.Optimizer | None = None,
                    meta: dict | None = None) -> Path:
    path = Path(path)
    tensors = {f"model.{k}": v.detach().contiguous().clone() for k, v in net.state_dict().items()}
    metadata = {"format": FORMAT, "version": str(VERSION), "space": json.dumps(net.space_description, sort_keys=True),
                "meta": json.dumps(meta or {}, sort_keys=True)}
    if optimizer is not None:
        state = optimizer.state_dict()
        for idx, st in state["state"].items():
            for name, val in st.items():
                t = val if torch.is_tensor(val) else torch.tensor(val)
                tensors[f"optim.{idx}.{name}"] = t.detach().contiguous().clone()
        metadata["param_groups"] = json.dumps(state["param_groups"])
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    save_file(tensors, str(tmp), metadata=metadata)
    os.replace(tmp, path)
    return path


def read_metadata(path: str | Path) -> dict:
    """The checkpoint's metadata (format, space, meta), or DataError if the file is not a checkpoint."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"checkpoint {path} does not exist")
    try:
        with safe_open(str(path), framework="pt") as f:
            md = dict(f.metadata() or {})
    except Exception as e:  # safetensors raises its own error types for corrupt headers
        raise DataError(f"checkpoint {path} is not a readable safetensors file (corrupt or truncated?): {e}") from None
    fmt = md.get("format")
    if fmt in _LEGACY:
        version = _LEGACY[fmt]
    elif fmt == FORMAT:
        try:
            version = int(md.get("version", ""))
        except ValueError:
            raise DataError(f"checkpoint {path}: version {md.get('version')!r} is not a number") from None
    else:
        raise DataError(f"checkpoint {path}: format {fmt!r} is not an hwnas supernet checkpoint ({FORMAT})")
    if version < VERSION:
        raise DataError(f"checkpoint {path} was written by an older hwnas (supernet checkpoint version {version}; this "
                        f"hwnas reads version {VERSION}); its settings are not read, so as not to misread them: train "
                        "the supernet again (delete the file or point supernet.checkpoint elsewhere)")
    if version > VERSION:
        raise DataError(f"checkpoint {path} was written by a newer hwnas (supernet checkpoint version {version}; this "
                        f"hwnas reads version {VERSION}); upgrade hwnas to use it")
    try:
        return {"format": md["format"], "version": version, "space": json.loads(md["space"]), "meta": json.loads(md["meta"]),
                "param_groups": json.loads(md["param_groups"]) if "param_groups" in md else None}
    except (KeyError, json.JSONDecodeError) as e:
        raise DataError(f"checkpoint {path}: metadata unreadable ({e})") from None


def load_checkpoint(path: str | Path, net: Supernet, optimizer: torch.optim.Optimizer | None = None) -> dict:
    """Load weights (and optimizer state) into ``net`` after checking the space; return the trainer metadata."""
    path = Path(path)
    md = read_metadata(path)
    if md["space"] != net.space_description:
        theirs, ours = md["space"], net.space_description
        what = "space" if theirs.get("name") != ours.get("name") else "space options/dimensions"
        raise DataError(f"checkpoint {path} was trained for another {what}: checkpoint has "
                        f"{theirs.get('name')!r} {theirs.get('options', {})}, this run uses "
                        f"{ours.get('name')!r} {ours.get('options', {})}; delete it or point supernet.checkpoint elsewhere")
    try:
        with safe_open(str(path), framework="pt") as f:
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as e:
        raise DataError(f"checkpoint {path}: tensors unreadable (corrupt file?): {e}") from None
    model = {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}
    expected = net.state_dict()
    missing, unexpected = sorted(set(expected) - set(model)), sorted(set(model) - set(expected))
    if missing or unexpected:
        raise DataError(f"checkpoint {path} does not match the network: missing {missing[:5]}, unexpected {unexpected[:5]}")
    bad = [k for k in expected if expected[k].shape != model[k].shape]
    if bad:
        raise DataError(f"checkpoint {path}: tensor {bad[0]} has shape {tuple(model[bad[0]].shape)}, "
                        f"network expects {tuple(expected[bad[0]].shape)}")
    if any(not torch.isfinite(v).all() for v in model.values() if v.is_floating_point()):
        raise DataError(f"checkpoint {path} holds NaN or infinite weights")
    net.load_state_dict(model)
    if optimizer is not None and md["param_groups"] is not None:
        state: dict = {}
        for k, v in tensors.items():
            if k.startswith("optim."):
                _, idx, name = k.split(".", 2)
                state.setdefault(int(idx), {})[name] = v
        try:
            optimizer.load_state_dict({"state": state, "param_groups": md["param_groups"]})
        except (ValueError, KeyError) as e:
            raise DataError(f"checkpoint {path}: optimizer state does not match ({e})") from None
    return md["meta"]
