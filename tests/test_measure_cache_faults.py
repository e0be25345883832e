"""A damaged or hand-edited latency cache (latency.json) gives a clear error naming the file and what to
do, never a silently wrong latency; deleting the file recovers."""

import json
import math

import pytest
import torch

from hwnas.core.errors import CostModelError
from hwnas.costs.measure import cache as cache_mod
from hwnas.costs.measure.cache import LatencyCache, reference_latency
from hwnas.costs.measure.fingerprint import device_fingerprint, fingerprint_id
from hwnas.costs.measure.model import measure_latency
from hwnas.costs.measure.timer import TIMER


@pytest.fixture()
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("HWNAS_CACHE", str(tmp_path))
    cache_mod._PINNED.clear()  # forget pinned scales memoised from other cache files
    yield tmp_path
    cache_mod._PINNED.clear()


def _dev() -> str:
    return fingerprint_id(device_fingerprint())


def _write_reference(path, value, raw: str | None = None):
    entry = {_dev(): {"device": device_fingerprint(), "reference_ms": {f"1@{TIMER}": value}, "results": {}}}
    path.write_text(raw if raw is not None else json.dumps(entry))


@pytest.mark.parametrize("text,what", [
    ("{not json", "not valid JSON"),
    ('{"a": 1', "not valid JSON"),
    ("[1, 2]", "holds a list"),
    ('{"dev": 3}', "holds a int"),
    ('{"dev": {"reference_ms": [1.0]}}', "must be objects"),
])
def test_unreadable_cache_names_the_file_and_the_fix(cache_dir, text, what):
    path = cache_dir / "latency.json"
    path.write_text(text)
    with pytest.raises(CostModelError, match=what) as e:
        LatencyCache(path)
    assert str(path) in str(e.value) and "delete the file" in str(e.value)
    with pytest.raises(CostModelError, match="delete the file"):  # the entry point the pipeline uses
        reference_latency(1)
    assert path.read_text() == text  # nothing overwritten behind the user's back


@pytest.mark.parametrize("value", [-0.011, 0, "0.011", None, True])
def test_pinned_reference_that_is_not_a_positive_number_is_refused(cache_dir, value):
    path = cache_dir / "latency.json"
    _write_reference(path, value)
    with pytest.raises(CostModelError, match=r"pinned reference latency .* not a positive number") as e:
        reference_latency(1)
    assert str(path) in str(e.value)


def test_nan_and_infinite_reference_are_refused(cache_dir):
    path = cache_dir / "latency.json"
    for raw in ("NaN", "Infinity", "-Infinity"):  # what json.dumps writes for float('nan') / inf
        _write_reference(path, 0.0, raw=json.dumps({_dev(): {"reference_ms": {f"1@{TIMER}": 0.0}}}).replace(
            "0.0", raw))
        with pytest.raises(CostModelError, match="not a positive number"):
            reference_latency(1)
    _write_reference(path, math.nan)
    with pytest.raises(CostModelError, match="not a positive number"):
        LatencyCache(path)


def test_hand_edited_result_latency_is_refused(cache_dir):
    path = cache_dir / "latency.json"
    cache = LatencyCache(path)
    module = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.ReLU())
    r = measure_latency(module, (1, 1, 6, 6), repeats=5, warmup=1, cache=cache)
    assert r.latency_ms > 0 and not r.cached
    data = json.loads(path.read_text())
    (key,) = data[_dev()]["results"]
    for bad in (-r.latency_ms, "fast", None):
        data[_dev()]["results"][key]["latency_ms"] = bad
        path.write_text(json.dumps(data))
        with pytest.raises(CostModelError, match=f"result '{key}' has latency_ms") as e:
            measure_latency(module, (1, 1, 6, 6), repeats=5, warmup=1, cache=LatencyCache(path))
        assert str(path) in str(e.value)


def test_deleting_the_damaged_file_recovers(cache_dir):
    path = cache_dir / "latency.json"
    _write_reference(path, -1.0)
    with pytest.raises(CostModelError):
        reference_latency(1)
    path.unlink()
    ms = reference_latency(1)
    assert ms > 0 and json.loads(path.read_text())[_dev()]["reference_ms"] == {f"1@{TIMER}": ms}


def test_a_reference_pinned_by_an_older_timer_is_not_this_timers_scale(cache_dir):
    """An older file pinned the reference under the bare thread count; this timer pins its own."""
    path = cache_dir / "latency.json"
    path.write_text(json.dumps({_dev(): {"device": device_fingerprint(), "reference_ms": {"1": 123.0},
                                         "results": {}}}))
    ms = reference_latency(1)
    assert 0 < ms < 123.0
    refs = json.loads(path.read_text())[_dev()]["reference_ms"]
    assert refs == {"1": 123.0, f"1@{TIMER}": ms}


@pytest.mark.parametrize("bad", [-1.0, 0.0, math.nan, math.inf])
def test_bad_reference_override_is_refused(cache_dir, bad):
    with pytest.raises(CostModelError, match="reference_ms"):
        measure_latency(torch.nn.ReLU(), (1, 4), repeats=5, reference_ms=bad)


def test_pin_refuses_a_bad_measurement(cache_dir):
    with pytest.raises(CostModelError, match="not a positive number"):
        LatencyCache(cache_dir / "latency.json").pin_reference(1, math.nan)
    assert not (cache_dir / "latency.json").exists()
