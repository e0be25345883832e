"""benchmarks/bench_trainonce_overhead.py on a tiny budget: the digits config's real evaluator, a 2-epoch supernet."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pytest

from hwnas.core.pareto import hypervolume

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_trainonce_overhead",
                                                  ROOT / "benchmarks" / "bench_trainonce_overhead.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_epochs_option_by_config_stem(bench):
    assert bench.parse_epochs("3", ["digits", "mnist1d"]) == {"digits": 3, "mnist1d": 3}
    assert bench.parse_epochs("mnist1d=40", ["digits", "mnist1d"]) == {"digits": None, "mnist1d": 40}
    assert bench.parse_epochs("", ["digits"]) == {"digits": None}
    with pytest.raises(ValueError, match="no config named 'cifar'"):
        bench.parse_epochs("cifar=3", ["digits", "mnist1d"])
    assert bench.parse_epochs(bench.DEFAULT_EPOCHS, ["mnist1d"], strict=False) == {"mnist1d": 400}
    with pytest.raises(ValueError, match="positive integer, got 0"):
        bench.parse_epochs("digits=0", ["digits"])


def test_tiny_run_reports_finite_overhead_evaluation_time_and_hypervolume(bench, tmp_path):
    work, out = tmp_path / "work", tmp_path / "page.md"
    args = ["--configs", "examples/digits.yaml", "--epochs", "2", "--budget", "6", "--seeds", "1",
            "--work", str(work)]
    assert bench.main([*args, "--strategies", "linas", "--out", str(out)]) == 0
    page = out.read_text()
    assert "| mobilenet (digits.yaml) | linas |" in page
    assert "supernet trained 2 epochs instead of the config's 30" in page
    res = json.loads(out.with_suffix(".json").read_text())["results"]["digits"]
    assert (res["space"], res["epochs"], res["config_epochs"], res["supernet_trained_here"]) == \
        ("mobilenet", 2, 30, True)
    assert res["objectives"] == ["accuracy:max", "latency_ms:min"]
    (run,) = res["runs"]["linas"]
    assert run["evaluated"] == 6 and run["failed"] == 0
    assert math.isfinite(run["overhead_cpu_s"]) and run["overhead_cpu_s"] > 0
    for part in ("all", "accuracy", "latency_ms", "macs"):
        assert math.isfinite(run["eval_cpu_s"][part]) and run["eval_cpu_s"][part] > 0
    # the evaluator's whole time covers its parts'
    assert run["eval_cpu_s"]["all"] >= run["eval_cpu_s"]["accuracy"] + run["eval_cpu_s"]["latency_ms"] - 1e-6
    assert 0 < run["hypervolume"]["worst"] <= 1 and 0 <= run["hypervolume"]["median"] <= 1 and run["front"]
    assert all(0 <= f["accuracy"] <= 100 and f["latency_ms"] > 0 for f in run["front"])
    # the one run sets the reference points and the best; its recorded evaluations give back its score
    refs, trials = res["references"], run["trials"]
    acc, lat = np.array(trials["accuracy"]), np.array(trials["latency_ms"])
    assert len(acc) == len(lat) == 6 and all(f["arch"] for f in run["front"])
    assert {(f["accuracy"], f["latency_ms"]) for f in run["front"]} <= set(zip(acc, lat))
    assert refs["best"] == [acc.max(), lat.min()] and refs["worst"] == [acc.min(), lat.max()]
    assert refs["median"] == [np.median(acc), np.median(lat)]
    box = (acc.max() - acc.min()) * (lat.max() - lat.min())
    assert run["hypervolume"]["worst"] == pytest.approx(
        hypervolume(np.c_[-acc, lat], np.array([-acc.min(), lat.max()])) / box)

    # a rerun in the same work folder reuses the trained supernet
    second = tmp_path / "again.md"
    assert bench.main([*args, "--strategies", "random", "--budget", "3", "--out", str(second)]) == 0
    again = json.loads(second.with_suffix(".json").read_text())["results"]["digits"]
    assert again["supernet_trained_here"] is False and again["runs"]["random"][0]["evaluated"] == 3
