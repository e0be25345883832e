"""The timer's mechanics, checked without timing anything against a bar: blocks the scheduler switched out
are dropped, a busy machine gets more pairs, a round taken in a slow spell of the reference is re-timed."""

import numpy as np
import pytest

from hwnas.costs.measure import timer as M
from hwnas.costs.measure.model import measure_latency


def test_low_percentile_ignores_switched_out_blocks():
    t = np.array([1.0, 1.1, 1.2, 1.05, 50.0, 60.0, 70.0, 80.0, 90.0, 95.0])
    clean = np.array([True, True, True, True, False, False, False, False, False, False])
    assert M._low(t, clean) == pytest.approx(np.percentile(t[:4], M.QUANTILE))
    assert M._low(t, clean) < 1.2 < np.percentile(t, M.QUANTILE) * 10
    # fewer than 3 unswitched blocks: all blocks (an estimate rather than none)
    few = np.zeros(10, bool)
    few[:2] = True
    assert M._low(t, few) == pytest.approx(np.percentile(t, M.QUANTILE))


def test_a_block_notes_whether_the_thread_was_switched_out(monkeypatch):
    counts = iter([5, 5, 7, 9])
    monkeypatch.setattr(M, "_switches", lambda: next(counts))
    calls = []
    per_run, clean = M._block(lambda: calls.append(1), 4)
    assert clean and per_run >= 0 and len(calls) == 4
    _, clean = M._block(lambda: None, 1)
    assert not clean


class _FakeRef:
    number = 2
    best = None

    def __init__(self):
        self.run = lambda: None


def test_busy_machine_times_more_pairs_up_to_the_limit(monkeypatch):
    ticks = iter(range(10**6))
    monkeypatch.setattr(M, "_switches", lambda: next(ticks))  # every block switched out
    t, r, tok, rok, number = M._time_paired(lambda: None, _FakeRef(), warmup=0, repeats=6, block_ms=0.25)
    assert len(t) == len(r) == M.EXTEND * 6 and not tok.any() and not rok.any() and number >= 1
    monkeypatch.setattr(M, "_switches", lambda: 0)  # a quiet machine: exactly `repeats` pairs
    t, r, tok, rok, _ = M._time_paired(lambda: None, _FakeRef(), warmup=0, repeats=6, block_ms=0.25)
    assert len(t) == 6 and tok.all() and rok.all()


def test_round_in_a_slow_spell_is_timed_again(monkeypatch):
    """The reference runs 30 % slower than its best in the process: the round is re-timed and the round with
    the fastest reference is the one kept."""
    ref = _FakeRef()
    ref.best = 1.0
    ones = np.ones(20, bool)
    rounds = iter([(np.full(20, 2.6), np.full(20, 1.3), ones, ones, 3),   # slow spell
                   (np.full(20, 2.0), np.full(20, 1.0), ones, ones, 3),   # machine back to speed
                   (np.full(20, 9.0), np.full(20, 9.0), ones, ones, 3)])
    monkeypatch.setattr(M, "_time_paired", lambda *a, **k: next(rounds))
    monkeypatch.setattr(M.time, "sleep", lambda s: None)
    t, r, *_, rounds_timed = M._time_rounds(lambda: None, ref, 0, 20, 0.25)
    assert rounds_timed == 2 and t[0] == 2.0 and r[0] == 1.0 and ref.best == 1.0


def test_persistent_spell_gives_up_after_the_retries(monkeypatch):
    ref = _FakeRef()
    ref.best = 1.0
    ones = np.ones(20, bool)
    slow = [(np.full(20, 3.0), np.full(20, 1.5 - 0.1 * i), ones, ones, 3) for i in range(M.RETRIES + 1)]
    it = iter(slow)
    monkeypatch.setattr(M, "_time_paired", lambda *a, **k: next(it))
    monkeypatch.setattr(M.time, "sleep", lambda s: None)
    t, r, *_, rounds_timed = M._time_rounds(lambda: None, ref, 0, 20, 0.25)
    assert rounds_timed == M.RETRIES + 1 and r[0] == pytest.approx(1.5 - 0.1 * M.RETRIES)
    assert ref.best == 1.0  # the process's fastest is kept


def test_result_reports_pairs_kept_blocks_and_rounds(tmp_path, monkeypatch):
    import torch

    monkeypatch.setenv("HWNAS_CACHE", str(tmp_path))
    r = measure_latency(torch.nn.ReLU(), (1, 8), repeats=12, warmup=1)
    assert r.pairs >= 12 and 0 <= r.kept <= r.pairs and 1 <= r.rounds <= M.RETRIES + 1
    assert set(r.to_dict()) >= {"pairs", "kept", "rounds"}
