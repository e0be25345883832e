"""A synthetic language, generated locally from a seed: sequence classification over token ids, offline.

Every sequence starts with ``[CLS]`` (id 1; id 0 is ``[PAD]``, reserved) and holds ``seq_len - 1``
tokens drawn independently: the modifiers ``not`` (id 2, probability 0.1) and ``very`` (id 3, 0.08),
else a content word (ids 4..vocab_size-1, uniform). A *lexicon*, drawn from ``lexicon_seed``, gives
each content word a polarity in {-2, -1, 0, 1, 2} and one of ``topics`` topics (default 4). Two tasks read the same
language (same lexicon, same token statistics), so a model pre-trained on one can be tuned on the other:

* ``sentiment``: the score is the sum of the words' polarities, a word right after ``not`` counting
  negated and one right after ``very`` doubled; the label is the score's quartile (4 classes, thresholds
  read from the generated sample). The unigram part is a bag of words; the modifiers need attention to
  the previous token, so depth and width are both rewarded, and longer sequences (more terms, more
  modifiers to resolve, quartiles further apart in absolute score but closer relative to its spread)
  are harder at a fixed model size.
* ``topic``: the label is the topic with the most words, not counting negated words (a word right after
  ``not``); sequences with a tie are not generated.
* ``polarity``: the sign of the sentiment score (2 classes); sequences scoring zero are not generated.

Inputs are int64 token ids ``(N, seq_len)``; :attr:`TaskData.preprocessing` records ``layout: NL``,
``vocab_size`` and the special ids. Generation is deterministic in (``task``, ``seq_len``,
``vocab_size``, ``num_samples``, ``seed``, ``lexicon_seed``) and takes well under a second.
"""

from __future__ import annotations

import numpy as np
import torch

from hwnas.core.errors import DataError
from hwnas.data.base import TaskData, from_arrays, preprocessing

PAD, CLS, NOT, VERY = 0, 1, 2, 3
#: ids below this are special tokens; content words follow
FIRST_WORD = 4
TASKS = ("sentiment", "topic", "polarity")
N_TOPICS = 4
P_NOT, P_VERY = 0.10, 0.08


def lexicon(vocab_size: int, lexicon_seed: int = 0, topics: int = N_TOPICS) -> tuple[np.ndarray, np.ndarray]:
    """Polarity (-2..2) and topic (0..topics-1) of every id (special ids: polarity 0, topic -1); the
    polarities do not depend on ``topics``."""
    rng = np.random.default_rng([lexicon_seed, 7])
    n = vocab_size - FIRST_WORD
    polarity = np.zeros(vocab_size, np.int64)
    topic = np.full(vocab_size, -1, np.int64)
    polarity[FIRST_WORD:] = rng.choice([-2, -1, 0, 1, 2], size=n, p=[0.15, 0.2, 0.3, 0.2, 0.15])
    topic[FIRST_WORD:] = rng.permutation(np.arange(n) % topics)  # topics equally sized
    return polarity, topic


def _tokens(rng: np.random.Generator, n: int, seq_len: int, vocab_size: int) -> np.ndarray:
    u = rng.random((n, seq_len - 1))
    words = rng.integers(FIRST_WORD, vocab_size, size=(n, seq_len - 1))
    body = np.where(u < P_NOT, NOT, np.where(u < P_NOT + P_VERY, VERY, words))
    return np.concatenate([np.full((n, 1), CLS, np.int64), body], axis=1).astype(np.int64)


def _multiplier(x: np.ndarray) -> np.ndarray:
    """Per position: -1 after ``not``, 2 after ``very``, else 1."""
    prev = np.concatenate([np.full((len(x), 1), PAD), x[:, :-1]], axis=1)
    return np.where(prev == NOT, -1, np.where(prev == VERY, 2, 1))


def sentiment_scores(x: np.ndarray, polarity: np.ndarray) -> np.ndarray:
    return (polarity[x] * _multiplier(x)).sum(axis=1)


def topic_counts(x: np.ndarray, topic: np.ndarray) -> np.ndarray:
    counted = (_multiplier(x) != -1) & (topic[x] >= 0)
    return np.stack([((topic[x] == k) & counted).sum(axis=1) for k in range(int(topic.max()) + 1)], axis=1)


def generate(task: str = "sentiment", seq_len: int = 32, vocab_size: int = 64, num_samples: int = 6000,
             seed: int = 0, lexicon_seed: int = 0, topics: int = N_TOPICS) -> tuple[np.ndarray, np.ndarray]:
    """Token ids ``(num_samples, seq_len)`` and labels of ``task`` (``sentiment``, ``topic`` or ``polarity``)."""
    if task not in TASKS:
        raise DataError(f"data.options.task: {task!r} unknown; allowed {list(TASKS)}")
    if isinstance(topics, bool) or not isinstance(topics, int) or topics < 2:
        raise DataError(f"data.options.topics: {topics!r} must be an integer >= 2")
    for name, value, low in (("seq_len", seq_len, 4), ("vocab_size", vocab_size, FIRST_WORD + 2 * topics),
                             ("num_samples", num_samples, 100)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise DataError(f"data.options.{name}: {value!r} must be an integer >= {low}")
    polarity, topic = lexicon(vocab_size, lexicon_seed, topics)
    rng = np.random.default_rng([seed, seq_len, vocab_size, TASKS.index(task)])
    if task == "sentiment":
        x = _tokens(rng, num_samples, seq_len, vocab_size)
        s = sentiment_scores(x, polarity)
        # quartile thresholds; ties sit on the upper side so each class is a half-open score interval
        cuts = np.quantile(s, [0.25, 0.5, 0.75])
        return x, np.searchsorted(cuts, s, side="right").astype(np.int64)
    xs, ys, have = [], [], 0
    while have < num_samples:
        x = _tokens(rng, num_samples, seq_len, vocab_size)
        if task == "polarity":
            s = sentiment_scores(x, polarity)
            keep, label = s != 0, (s > 0).astype(np.int64)  # a score of zero has no sign
        else:
            c = topic_counts(x, topic)
            top = np.sort(c, axis=1)
            keep, label = top[:, -1] > top[:, -2], c.argmax(axis=1)  # a unique most frequent topic
        xs.append(x[keep])
        ys.append(label[keep])
        have += int(keep.sum())
    return np.concatenate(xs)[:num_samples], np.concatenate(ys)[:num_samples].astype(np.int64)


def load(task: str = "sentiment", seq_len: int = 32, vocab_size: int = 64, num_samples: int = 6000,
         seed: int = 0, lexicon_seed: int = 0, topics: int = N_TOPICS, test_fraction: float = 0.25,
         val_fraction: float = 0.2) -> TaskData:
    """The synthetic-language task as a TaskData of int64 token ids ``(N, seq_len)``."""
    x, y = generate(task, seq_len, vocab_size, num_samples, seed, lexicon_seed, topics)
    names = {"sentiment": ["very negative", "negative", "positive", "very positive"],
             "polarity": ["negative", "positive"]}.get(task, [f"topic {k}" for k in range(topics)])
    prep = preprocessing("NL", 1.0, source_size=[seq_len], vocab_size=vocab_size, dtype="int64",
                         special_tokens={"pad": PAD, "cls": CLS, "not": NOT, "very": VERY},
                         summary=f"synthetic language ({task}), token ids 0..{vocab_size - 1}, [CLS] first")
    data = from_arrays(f"synthetic_text-{task}", x, y, test_fraction=test_fraction, val_fraction=val_fraction,
                       seed=seed, class_names=names, preprocessing=prep)
    return as_token_ids(data)


def as_token_ids(data: TaskData) -> TaskData:
    """``data`` with inputs as int64 token ids (:func:`~hwnas.data.base.from_arrays` keeps float32)."""
    for split in ("train", "val", "test"):
        x = getattr(data, f"x_{split}")
        setattr(data, f"x_{split}", torch.round(x).to(torch.int64) if x.is_floating_point() else x.long())
    return data
