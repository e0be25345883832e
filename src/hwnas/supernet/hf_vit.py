"""Hugging Face ViT (``ViTModel``, ``ViTForImageClassification``) onto the ``vit`` supernet.

Names as ``save_pretrained`` writes them (with or without the ``vit.`` prefix):

    embeddings.cls_token                         -> embed.cls
    embeddings.position_embeddings               -> embed.positions
    embeddings.patch_embeddings.projection       -> embed.patch
    encoder.layer.{i}.layernorm_before           -> blocks.{i}.norm1
    encoder.layer.{i}.attention.attention.query|key|value -> blocks.{i}.attn.q|k|v
    encoder.layer.{i}.attention.output.dense     -> blocks.{i}.attn.out
    encoder.layer.{i}.layernorm_after            -> blocks.{i}.norm2
    encoder.layer.{i}.intermediate.dense         -> blocks.{i}.mlp.fc1
    encoder.layer.{i}.output.dense               -> blocks.{i}.mlp.fc2
    layernorm                                    -> norm
    classifier                                   -> head

The layer names of the module in memory in ``transformers`` 5 (``layers.{i}.attention.q_proj``, ...)
are read too. ``ViTModel``'s pooler has no counterpart (the head reads the class token) and is not used.
"""

from __future__ import annotations

import torch

from hwnas.core.errors import DataError
from hwnas.supernet.pretrained import check_encoder_config, check_fits, rename

LAYER = {"layernorm_before": "norm1", "attention.attention.query": "attn.q", "attention.attention.key": "attn.k",
         "attention.attention.value": "attn.v", "attention.output.dense": "attn.out",
         "layernorm_after": "norm2", "intermediate.dense": "mlp.fc1", "output.dense": "mlp.fc2",
         # transformers >= 5 module names
         "attention.q_proj": "attn.q", "attention.k_proj": "attn.k", "attention.v_proj": "attn.v",
         "attention.o_proj": "attn.out", "mlp.fc1": "mlp.fc1", "mlp.fc2": "mlp.fc2"}
TOP = {"embeddings.cls_token": "embed.cls", "embeddings.position_embeddings": "embed.positions",
       "embeddings.patch_embeddings.projection": "embed.patch", "layernorm": "norm"}
LAYER_PREFIXES = ("encoder.layer.", "layers.")


def _strip(name: str) -> str:
    return name[len("vit."):] if name.startswith("vit.") else name


def to_supernet(config: dict, tensors: dict[str, torch.Tensor], space, source: str
                ) -> tuple[dict[str, torch.Tensor], list[str], list[str]]:
    """(supernet tensors, supernet names left fresh, checkpoint names not used) of a ViT checkpoint."""
    what = f"ViT {source}"
    check_encoder_config(space, what, config)
    check_fits(space, what, "patch_size (space option patch)", int(config.get("patch_size", 0)), space.patch)
    check_fits(space, what, "num_channels", int(config.get("num_channels", 3)), space.input_shape[0])
    if config.get("qkv_bias", True) is False:
        raise DataError(f"pretrained {what}: qkv_bias false is not supported (the space's projections have biases)")
    src = {_strip(k): v for k, v in tensors.items()}
    out, used = rename(src, TOP, LAYER, LAYER_PREFIXES)
    if "embed.positions" in out and out["embed.positions"].shape[1] != space.tokens:
        p = out["embed.positions"]
        raise DataError(f"pretrained {what}: parameter embed.positions has shape {tuple(p.shape)} "
                        f"({p.shape[1] - 1} patches + class token) but the space's is (1, {space.tokens}, "
                        f"{p.shape[2]}) (image {list(space.input_shape[1:])} in {space.patch}x{space.patch} patches)")
    unused = sorted(k for k in src if k not in used)
    return out, [], unused
