"""Hugging Face BERT (``BertModel``, ``BertForSequenceClassification``) onto the ``text_encoder`` supernet.

Names as ``save_pretrained`` writes them (with or without the ``bert.`` prefix):

    embeddings.word_embeddings                 -> embed.tokens
    embeddings.position_embeddings (+ type 0)  -> embed.positions (first max_len rows)
    embeddings.LayerNorm                       -> embed.norm
    encoder.layer.{i}.attention.self.query|key|value -> blocks.{i}.attn.q|k|v
    encoder.layer.{i}.attention.output.dense   -> blocks.{i}.attn.out
    encoder.layer.{i}.attention.output.LayerNorm -> blocks.{i}.norm1
    encoder.layer.{i}.intermediate.dense       -> blocks.{i}.mlp.fc1
    encoder.layer.{i}.output.dense             -> blocks.{i}.mlp.fc2
    encoder.layer.{i}.output.LayerNorm         -> blocks.{i}.norm2
    pooler.dense                               -> pooler
    classifier                                 -> head

The space has no token types: BERT adds the type-0 embedding to every position (``token_type_ids``
default to zeros), so it is folded into the position embeddings, which is exact.
"""

from __future__ import annotations

import torch

from hwnas.core.errors import DataError
from hwnas.supernet.pretrained import check_encoder_config, rename

LAYER = {"attention.self.query": "attn.q", "attention.self.key": "attn.k", "attention.self.value": "attn.v",
         "attention.output.dense": "attn.out", "attention.output.LayerNorm": "norm1",
         "intermediate.dense": "mlp.fc1", "output.dense": "mlp.fc2", "output.LayerNorm": "norm2"}
TOP = {"embeddings.word_embeddings": "embed.tokens", "embeddings.LayerNorm": "embed.norm", "pooler.dense": "pooler"}


def _strip(name: str) -> str:
    return name[len("bert."):] if name.startswith("bert.") else name


def to_supernet(config: dict, tensors: dict[str, torch.Tensor], space, source: str
                ) -> tuple[dict[str, torch.Tensor], list[str], list[str]]:
    """(supernet tensors, supernet names left fresh, checkpoint names not used) of a BERT checkpoint."""
    what = f"BERT {source}"
    check_encoder_config(space, what, config)
    pos_type = config.get("position_embedding_type", "absolute")
    if pos_type != "absolute":
        raise DataError(f"pretrained {what}: position_embedding_type {pos_type!r} is not supported ('absolute')")
    src = {_strip(k): v for k, v in tensors.items()}
    out, used = rename(src, TOP, LAYER, ("encoder.layer.",))
    positions = src.get("embeddings.position_embeddings.weight")
    if positions is None:
        raise DataError(f"pretrained {what}: no embeddings.position_embeddings.weight")
    if positions.shape[0] < space.max_len:
        raise DataError(f"pretrained {what}: parameter embed.positions.weight has {positions.shape[0]} positions "
                        f"(max_position_embeddings, shape {tuple(positions.shape)}) but the space needs max_len "
                        f"{space.max_len} (shape ({space.max_len}, {positions.shape[1]}))")
    types = src.get("embeddings.token_type_embeddings.weight")
    positions = positions[:space.max_len] + (types[0] if types is not None else 0)
    out["embed.positions.weight"] = positions
    used.update({"embeddings.position_embeddings.weight", "embeddings.token_type_embeddings.weight"})
    fresh = [] if "pooler.weight" in out else ["pooler.weight", "pooler.bias"]  # BertModel(add_pooling_layer=False)
    unused = sorted(k for k in src if k not in used and not k.endswith("position_ids"))
    return out, fresh, unused
