"""Pre-trained weights onto the elastic spaces: tiny Hugging Face BERT / ViT models built here from a config,
saved with ``save_pretrained``, loaded through hwnas; the largest sub-network reproduces them."""

from __future__ import annotations

import json

import pytest
import torch

from hwnas.core.errors import DataError
from hwnas.spaces import get_space
from hwnas.supernet.checkpoint import save_checkpoint
from hwnas.supernet.pretrained import load_pretrained

transformers = pytest.importorskip("transformers", reason="the optional extra hwnas[transformers] builds the HF models")

TEXT = {"input_shape": [16], "num_classes": 3, "vocab_size": 50, "max_len": 20}


def _bert(tmp_path, cls=True, **over):
    cfg = dict(vocab_size=50, hidden_size=32, num_hidden_layers=3, num_attention_heads=4, intermediate_size=64,
               max_position_embeddings=24, num_labels=3, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    cfg.update(over)
    torch.manual_seed(0)
    config = transformers.BertConfig(**cfg)
    model = (transformers.BertForSequenceClassification if cls else transformers.BertModel)(config).eval()
    with torch.no_grad():  # make every tensor matter: random LN / type embeddings, not the identity init
        for name, p in model.named_parameters():
            if "LayerNorm" in name or "token_type" in name:
                p.add_(torch.randn_like(p) * 0.1)
    model.save_pretrained(tmp_path / "bert")
    return model, tmp_path / "bert"


def _ids(n=5, length=16, vocab=50):
    return torch.randint(0, vocab, (n, length), generator=torch.Generator().manual_seed(1))


def test_bert_classifier_is_the_largest_subnetwork(tmp_path):
    model, path = _bert(tmp_path)
    space = get_space("text_encoder", **TEXT)
    net = space.build_supernet().eval()
    report = load_pretrained(path, net)
    assert report.kind == "bert" and not report.fresh and "bert.embeddings.token_type_embeddings.weight" not in report.unused
    ids = _ids()
    with torch.no_grad():
        want = model(input_ids=ids).logits
        got = net(ids, space.largest())
        extracted = net.extract(space.largest())(ids)
    assert torch.allclose(got, want, atol=1e-5), (got - want).abs().max()
    assert torch.allclose(extracted, want, atol=1e-5)
    # a smaller sub-network runs on the inherited (sliced) weights
    small = net(ids, space.smallest())
    assert small.shape == (5, 3) and torch.isfinite(small).all()


def test_bert_model_pooled_output_and_fresh_head(tmp_path):
    model, path = _bert(tmp_path, cls=False)
    space = get_space("text_encoder", **TEXT)
    net = space.build_supernet().eval()
    report = load_pretrained(path, net)
    assert report.fresh == ["head.bias", "head.weight"]
    module = net.extract(space.largest())
    pooled = {}
    module.pool_act.register_forward_hook(lambda m, i, o: pooled.setdefault("out", o))
    ids = _ids()
    with torch.no_grad():
        module(ids)
        want = model(input_ids=ids).pooler_output
    assert torch.allclose(pooled["out"], want, atol=1e-5)


def test_vit_classifier_is_the_largest_subnetwork(tmp_path):
    torch.manual_seed(0)
    config = transformers.ViTConfig(image_size=8, patch_size=2, num_channels=1, hidden_size=32, num_hidden_layers=2,
                                    num_attention_heads=4, intermediate_size=48, num_labels=10)
    model = transformers.ViTForImageClassification(config).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "layernorm" in name:
                p.add_(torch.randn_like(p) * 0.1)
    model.save_pretrained(tmp_path / "vit")
    space = get_space("vit", input_shape=[1, 8, 8], num_classes=10, depths=[1, 2], mlp_sizes=[32, 48])
    net = space.build_supernet().eval()
    load_pretrained(tmp_path / "vit", net)
    x = torch.randn(4, 1, 8, 8, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        want = model(pixel_values=x).logits
        got = net(x, space.largest())
    assert torch.allclose(got, want, atol=1e-5), (got - want).abs().max()


def test_other_class_count_gets_a_new_head_and_new_head_option(tmp_path):
    model, path = _bert(tmp_path)
    space = get_space("text_encoder", **{**TEXT, "num_classes": 5})
    net = space.build_supernet()
    before = net.head.weight.detach().clone()
    report = load_pretrained(path, net)
    assert report.fresh == ["head.bias", "head.weight"] and torch.equal(net.head.weight, before)
    assert torch.equal(net.embed.tokens.weight, model.bert.embeddings.word_embeddings.weight)
    same = get_space("text_encoder", **TEXT).build_supernet()
    assert load_pretrained(path, same, new_head=True).fresh == ["head.bias", "head.weight"]


def test_more_heads_than_the_space_allows_is_refused_with_shapes(tmp_path):
    _, path = _bert(tmp_path, hidden_size=64, num_attention_heads=8)
    net = get_space("text_encoder", **TEXT).build_supernet()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    with pytest.raises(DataError, match=r"blocks\.0\.attn\.q\.weight holds 8 heads of 8 \(shape \(64, 64\)\).*"
                                        r"at most 4 heads of 8 \(shape \(32, 32\)\)"):
        load_pretrained(path, net)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())  # nothing changed


def test_other_vocabulary_is_refused_with_both_shapes(tmp_path):
    _, path = _bert(tmp_path, vocab_size=80)
    net = get_space("text_encoder", **TEXT).build_supernet()
    with pytest.raises(DataError, match=r"embed\.tokens\.weight has shape \(80, 32\) in the checkpoint but \(50, 32\)"):
        load_pretrained(path, net)


def test_other_depth_and_too_few_positions_are_refused(tmp_path):
    _, path = _bert(tmp_path, num_hidden_layers=2)
    with pytest.raises(DataError, match="num_hidden_layers.*is 2 in the checkpoint but 3"):
        load_pretrained(path, get_space("text_encoder", **TEXT).build_supernet())
    _, path = _bert(tmp_path, max_position_embeddings=18)
    with pytest.raises(DataError, match=r"embed\.positions\.weight has 18 positions.*max_len 20"):
        load_pretrained(path, get_space("text_encoder", **TEXT).build_supernet())


def test_unsupported_model_type_names_it_and_the_supported(tmp_path):
    _, path = _bert(tmp_path)
    cfg = json.loads((path / "config.json").read_text())
    cfg["model_type"], cfg["architectures"] = "gpt2", ["GPT2LMHeadModel"]
    (path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(DataError, match=r"model_type 'gpt2' \(GPT2LMHeadModel\) is not supported; supported model "
                                        r"types: \['bert', 'vit'\]"):
        load_pretrained(path, get_space("text_encoder", **TEXT).build_supernet())


def test_family_must_match_the_space(tmp_path):
    _, path = _bert(tmp_path)
    with pytest.raises(DataError, match="maps onto the 'text_encoder' space, but this supernet is 'vit'"):
        load_pretrained(path, get_space("vit").build_supernet())


def test_pickle_only_folder_is_refused(tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text(json.dumps({"model_type": "bert"}))
    (tmp_path / "m" / "pytorch_model.bin").write_bytes(b"not read")
    with pytest.raises(DataError, match="pytorch_model.bin is pickle, which hwnas never loads"):
        load_pretrained(tmp_path / "m", get_space("text_encoder", **TEXT).build_supernet())


def test_hwnas_checkpoint_of_another_task(tmp_path):
    space = get_space("text_encoder", **TEXT)
    torch.manual_seed(3)
    src = space.build_supernet()
    save_checkpoint(tmp_path / "dense.safetensors", src, meta={"dense": True})
    other = get_space("text_encoder", **{**TEXT, "num_classes": 4}).build_supernet()
    report = load_pretrained(tmp_path / "dense.safetensors", other)
    assert report.kind == "hwnas" and report.fresh == ["head.bias", "head.weight"]
    assert torch.equal(other.blocks[2].mlp.fc2.weight, src.blocks[2].mlp.fc2.weight)
    wider = get_space("text_encoder", **{**TEXT, "widths": [16, 48]}).build_supernet()
    with pytest.raises(DataError, match=r"blocks\.0\.attn\.k\.weight has shape \(32, 32\) in the checkpoint but \(32, 48\)"):
        load_pretrained(tmp_path / "dense.safetensors", wider)
    with pytest.raises(DataError, match="holds a 'text_encoder' supernet; this one is 'vit'"):
        load_pretrained(tmp_path / "dense.safetensors", get_space("vit").build_supernet())
