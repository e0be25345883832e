"""The synthetic language task and the token-id loader: labels follow the stated rules, bad input is named."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hwnas.core.errors import DataError
from hwnas.data import get_dataset
from hwnas.data.synthetic_text import CLS, NOT, VERY, generate, lexicon, sentiment_scores, topic_counts


def test_sentiment_labels_follow_the_score_with_modifiers():
    x, y = generate("sentiment", seq_len=12, vocab_size=32, num_samples=2000, seed=3)
    assert x.shape == (2000, 12) and (x[:, 0] == CLS).all() and x.min() >= 0 and x.max() < 32
    polarity, _ = lexicon(32)
    s = sentiment_scores(x, polarity)
    # a hand-computed score for one row: negation flips, 'very' doubles the next word
    row = x[0]
    expect = sum(polarity[t] * (-1 if row[i - 1] == NOT else 2 if row[i - 1] == VERY else 1)
                 for i, t in enumerate(row) if i > 0)
    assert s[0] == expect
    # labels are score quartiles: ordered, every class present, roughly balanced
    for k in range(3):
        assert s[y == k].max() < s[y == k + 1].min()
    counts = np.bincount(y, minlength=4)
    assert counts.min() > 300


def test_topic_labels_are_the_unique_majority_without_negated_words():
    x, y = generate("topic", seq_len=16, vocab_size=32, num_samples=500, seed=1)
    _, topic = lexicon(32)
    c = topic_counts(x, topic)
    assert (c.argmax(1) == y).all()
    top = np.sort(c, 1)
    assert (top[:, -1] > top[:, -2]).all()
    # a negated word does not count: hand-built row
    row = np.array([[CLS, NOT, 4, 4, 5]])
    assert topic_counts(row, topic)[0, topic[4]] >= 1
    assert topic_counts(row, topic)[0].sum() == 2


def test_polarity_is_the_sign_of_the_score():
    x, y = generate("polarity", seq_len=12, vocab_size=32, num_samples=600, seed=2)
    s = sentiment_scores(x, lexicon(32)[0])
    assert len(y) == 600 and (s != 0).all() and ((s > 0) == (y == 1)).all() and 0.3 < y.mean() < 0.7


def test_more_topics_split_the_coarser_ones():
    # 12 topics refine 6 (each coarse topic split in two) and the polarities stay: InstaTune's example
    # pre-trains on 6 topics and tunes on 12 of the same language
    p6, t6 = lexicon(64, topics=6)
    p12, t12 = lexicon(64, topics=12)
    words = slice(4, None)
    assert (p6 == p12).all() and (t12[words] % 6 == t6[words]).all()
    assert sorted(np.bincount(t12[words])) == [5] * 12
    x, y = generate("topic", seq_len=24, num_samples=300, topics=12)
    assert y.max() == 11 and (topic_counts(x, t12).argmax(1) == y).all()
    with pytest.raises(DataError, match="topics"):
        generate("topic", topics=1)


def test_generation_is_deterministic_and_seeded():
    a = generate("sentiment", seq_len=10, num_samples=300, seed=5)
    b = generate("sentiment", seq_len=10, num_samples=300, seed=5)
    c = generate("sentiment", seq_len=10, num_samples=300, seed=6)
    assert all(np.array_equal(u, v) for u, v in zip(a, b))
    assert not np.array_equal(a[0], c[0])


def test_both_tasks_share_one_language():
    # same lexicon and token statistics: a model tuned from one task to the other reads the same ids
    s = get_dataset("synthetic_text", task="sentiment", seq_len=16, num_samples=400)
    t = get_dataset("synthetic_text", task="topic", seq_len=16, num_samples=400)
    assert s.x_train.dtype == torch.int64 and t.x_train.dtype == torch.int64
    assert s.input_shape == t.input_shape == (16,)
    assert s.preprocessing["vocab_size"] == t.preprocessing["vocab_size"] == 64
    assert s.preprocessing["layout"] == "NL" and s.num_classes == t.num_classes == 4
    assert s.class_names[0] == "very negative" and t.class_names[0] == "topic 0"


def test_modifiers_matter_beyond_a_bag_of_words():
    # the same bag of words in another order has another sentiment score: the task needs word order
    polarity, _ = lexicon(64)
    w = next(i for i in range(4, 64) if polarity[i] == 2)
    a = np.array([[CLS, NOT, w, 4]])
    b = np.array([[CLS, w, NOT, 4]])
    assert sentiment_scores(a, polarity)[0] != sentiment_scores(b, polarity)[0]


@pytest.mark.parametrize("opts,msg", [({"task": "poetry"}, "allowed"), ({"seq_len": 2}, "seq_len"),
                                      ({"vocab_size": 5}, "vocab_size")])
def test_bad_generator_options_are_named(opts, msg):
    with pytest.raises(DataError, match=msg):
        get_dataset("synthetic_text", **opts)


# ---------------------------------------------------------------------------------------- user token ids
def _arrays(n=60, length=8, vocab=20, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(1, vocab, size=(n, length)), rng.integers(0, 3, size=n)


def test_npz_tokens_load_as_int64(tmp_path):
    x, y = _arrays()
    np.savez(tmp_path / "t.npz", x=x, y=y)
    d = get_dataset("tokens", path=str(tmp_path / "t.npz"), vocab_size=20)
    assert d.x_train.dtype == torch.int64 and d.input_shape == (8,) and d.num_classes == 3
    assert d.preprocessing["vocab_size"] == 20
    got = torch.cat([d.x_train, d.x_val, d.x_test]).numpy()
    assert sorted(map(tuple, got)) == sorted(map(tuple, x))


def test_folder_of_npy_tokens(tmp_path):
    x, y = _arrays()
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    d = get_dataset("tokens", path=str(tmp_path))
    assert d.preprocessing["vocab_size"] == int(x.max()) + 1


def test_csv_tokens_pad_and_name_classes(tmp_path):
    rows = ["label,tokens"] + [f"{'pos' if i % 2 else 'neg'},\"{' '.join(str(1 + (i + j) % 9) for j in range(3 + i % 4))}\""
                               for i in range(40)]
    (tmp_path / "t.csv").write_text("\n".join(rows) + "\n")
    d = get_dataset("tokens", path=str(tmp_path / "t.csv"), pad_id=0)
    assert d.class_names == ["neg", "pos"] and d.input_shape == (6,)
    x = torch.cat([d.x_train, d.x_val, d.x_test])
    assert (x[(x != 0).sum(1) == 3][:, 3:] == 0).all()  # shorter sequences padded with pad_id


def test_token_id_out_of_vocabulary_names_sample_and_file(tmp_path):
    x, y = _arrays()
    x[17, 4] = 25
    np.savez(tmp_path / "t.npz", x=x, y=y)
    with pytest.raises(DataError, match=r"t\.npz sample 17: token id 25 at position 4 is outside the vocabulary 0\.\.19"):
        get_dataset("tokens", path=str(tmp_path / "t.npz"), vocab_size=20)
    x[17, 4] = -1
    np.savez(tmp_path / "t.npz", x=x, y=y)
    with pytest.raises(DataError, match="sample 17: token id -1"):
        get_dataset("tokens", path=str(tmp_path / "t.npz"))


def test_sequence_longer_than_positions_names_sample(tmp_path):
    x, y = _arrays(length=10)
    x[:, 6:] = 0  # padded: content fits in 6 ...
    x[33, 8] = 5  # ... except sample 33, 9 tokens long
    np.savez(tmp_path / "t.npz", x=x, y=y)
    with pytest.raises(DataError, match=r"sample 33 holds 9 tokens.*max_len 6"):
        get_dataset("tokens", path=str(tmp_path / "t.npz"), max_len=6)
    x[33, 8] = 0
    np.savez(tmp_path / "t.npz", x=x, y=y)
    d = get_dataset("tokens", path=str(tmp_path / "t.npz"), max_len=6)  # trailing padding cut off
    assert d.input_shape == (6,)


def test_csv_errors_name_the_line(tmp_path):
    (tmp_path / "t.csv").write_text("label,tokens\n0,1 2 3\n1,4 x 5\n")
    with pytest.raises(DataError, match=r"line 3 \(sample 1\)"):
        get_dataset("tokens", path=str(tmp_path / "t.csv"))
    (tmp_path / "t.csv").write_text("label,tokens\n0,1 2 3\n1,4 99 5\n")
    with pytest.raises(DataError, match=r"t\.csv sample 1 \(line 3\): token id 99"):
        get_dataset("tokens", path=str(tmp_path / "t.csv"), vocab_size=50)
    (tmp_path / "t.csv").write_text("y,text\n0,1 2 3\n")
    with pytest.raises(DataError, match=r"column\(s\) \['label', 'tokens'\] not found"):
        get_dataset("tokens", path=str(tmp_path / "t.csv"))


def test_float_token_ids_refused(tmp_path):
    x, y = _arrays()
    np.savez(tmp_path / "t.npz", x=x.astype(np.float32), y=y)
    with pytest.raises(DataError, match="must be integers"):
        get_dataset("tokens", path=str(tmp_path / "t.npz"))
