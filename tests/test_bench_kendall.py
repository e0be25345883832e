"""Supernet ranking against stand-alone references: hwnas.supernet.ranking / .standalone, and the benchmark
script benchmarks/bench_supernet_kendall.py run as a program."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import kendalltau

from hwnas.core.errors import ConfigError
from hwnas.data import get_dataset
from hwnas.spaces.signal1d import Signal1DSpace
from hwnas.supernet import ranking, standalone
from hwnas.supernet.settings import TrainingConfig

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "bench_supernet_kendall.py"


def _bench(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=600)


def test_alone_training_changes_only_standalone_settings_and_the_cache_key():
    base = TrainingConfig(epochs=3, batch_size=32)
    ref = standalone.parse_alone_training("weight_decay=0.2,label_smoothing=0.1", base)
    assert (ref.weight_decay, ref.label_smoothing, ref.batch_size, ref.epochs) == (0.2, 0.1, 32, 3)
    # a reference may train for its own number of epochs (default: base's, i.e. --alone-epochs)
    long = standalone.parse_alone_training("weight_decay=0.2,epochs=300", base)
    assert (long.weight_decay, long.epochs) == (0.2, 300)
    for bad in ("distill=0", "sandwich_random=4", "few_shot=n_conv"):  # supernet-only settings
        with pytest.raises(ConfigError, match="not a stand-alone setting"):
            standalone.parse_alone_training(bad, base)
    with pytest.raises(ConfigError, match="epochs"):
        standalone.parse_alone_training("epochs=0", base)
    space = Signal1DSpace(input_shape=(1, 40))
    data = get_dataset("mnist1d")
    arch = space.largest()
    k0 = standalone.alone_key(space, data, arch, base, 0)
    assert standalone.alone_key(space, data, arch, ref, 0) != k0  # same epochs (3), other weight decay / smoothing
    assert standalone.alone_key(space, data, arch, base.model_copy(update={"epochs": 60}), 0) != k0
    # a supernet-only setting leaves the reference (and its cached runs) as they are
    assert standalone.alone_key(space, data, arch, base.model_copy(update={"distill": 0.0}), 0) == k0


def test_benchmark_scores_every_supernet_against_every_reference(tmp_path):
    W3 = "weight_decay=3,epochs=2"  # a second stand-alone reference, with its own training length
    cfg = tmp_path / "m1d.yaml"
    cfg.write_text("data: {name: mnist1d}\nspace: signal1d\nsupernet:\n  training: {epochs: 1, batch_size: 256}\n"
                   "threads: 1\n")
    out, cache = tmp_path / "k.json", tmp_path / "cache.json"
    run = _bench("--config", str(cfg), "--n", "4", "--seeds", "2", "--alone-epochs", "1", "--alone-training", W3,
                 "--cache", str(cache), "--out", str(out), "--finetune-epochs", "1", "--tuned-reference", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    res = json.loads(out.read_text())
    refs = [r["reference"] for r in res["summary"]["references"]]
    assert refs == ["config", W3, "tuned"]
    assert [(r["variant"], r["reference"]) for r in res["summary"]["results"]] == [
        ("config", "config"), ("config +ft1", "config"), ("config", W3), ("config +ft1", W3),
        ("config", "tuned"), ("config +ft1", "tuned")]
    tuned = res["summary"]["references"][2]["training"]
    assert sum(tuned["chosen"].values()) == 4 and tuned["per_architecture_best_val_of"] == ["config", W3]
    # the validation-split ranking (to choose variants by) is scored for each trained supernet, not fine-tunes
    by = {(r["variant"], r["reference"]): r["kendall_tau_val"] for r in res["summary"]["results"]}
    assert by[("config +ft1", "config")] is None
    expect = kendalltau([r["inherited_val"]["config"] for r in res["rows"]],
                        [np.mean(r["alone_val_by_reference"][W3]) for r in res["rows"]]).statistic
    assert by[("config", W3)] == pytest.approx(expect, nan_ok=True)
    assert any(r["inherited_val"]["config"] != r["inherited"]["config"] for r in res["rows"])  # another split
    # the same rankings by inherited soft accuracy (mean true-class probability), for trained supernets only
    soft = {(r["variant"], r["reference"]): (r["kendall_tau_soft"], r["kendall_tau_soft_val"])
            for r in res["summary"]["results"]}
    assert soft[("config +ft1", "config")] == (None, None)
    ref_mean = [np.mean(r["alone_by_reference"][W3]) for r in res["rows"]]
    expect = kendalltau([r["inherited_soft"]["config"] for r in res["rows"]], ref_mean).statistic
    assert soft[("config", W3)][0] == pytest.approx(expect, nan_ok=True)
    assert all(0 < r["inherited_soft"]["config"] < 100 and 0 < r["inherited_soft_val"]["config"] < 100
               for r in res["rows"])
    # fine-tuning starts from the inherited weights and changes them: some sub-network scores differently
    assert any(r["inherited"]["config"] != r["inherited"]["config +ft1"] for r in res["rows"])
    entries = json.loads(cache.read_text())
    assert len(entries) == 4 * 2 * 2  # archs x seeds x references
    # the second reference trains for its own 2 epochs, the first for --alone-epochs
    assert sorted(e["epochs"] for e in entries.values()) == [1] * 8 + [2] * 8
    assert res["summary"]["references"][1]["training"]["epochs"] == 2
    assert all(0 <= e["val_accuracy"] <= 100 for e in entries.values())
    rows = res["rows"]
    assert all(r["alone"] == r["alone_by_reference"]["config"] for r in rows)
    # other training, other networks: with one short epoch most differ
    assert any(r["alone_val_by_reference"]["config"] != r["alone_val_by_reference"][W3]
               for r in rows)


def test_tuned_reference_takes_each_architecture_at_its_best_validation_recipe():
    rows = [
        {"alone_by_reference": {"a": [80.0, 82.0], "b": [90.0, 91.0]},
         "alone_val_by_reference": {"a": [85.0, 85.0], "b": [84.0, 84.0]}},  # a wins on validation, b on test
        {"alone_by_reference": {"a": [70.0, 70.0], "b": [60.0, 61.0]},
         "alone_val_by_reference": {"a": [70.0, 72.0], "b": [71.0, 71.0]}},  # a tie on validation: first listed
        {"alone_by_reference": {"a": [50.0, 52.0], "b": [55.0, 54.0]},
         "alone_val_by_reference": {"a": [50.0, 50.0], "b": [50.0, 51.0]}},
    ]
    ranking.add_tuned_reference(rows, ["a", "b"])
    assert [r["tuned_choice"] for r in rows] == ["a", "a", "b"]
    assert [r["alone_by_reference"]["tuned"] for r in rows] == [[80.0, 82.0], [70.0, 70.0], [55.0, 54.0]]
    assert rows[2]["alone_val_by_reference"]["tuned"] == [50.0, 51.0]
    with pytest.raises(ConfigError, match="at least two"):
        ranking.add_tuned_reference(rows, ["a"])


def test_benchmark_refuses_bad_arguments_before_any_training(tmp_path):
    cfg = tmp_path / "m1d.yaml"
    cfg.write_text("data: {name: mnist1d}\nspace: signal1d\nsupernet:\n  training: {epochs: 1}\nthreads: 1\n")
    cache = tmp_path / "cache.json"
    run = _bench("--config", str(cfg), "--n", "2", "--seeds", "1", "--tuned-reference", "--cache", str(cache),
                 cwd=tmp_path)
    assert run.returncode != 0 and "at least two stand-alone recipes" in run.stderr
    assert "supernet 'config'" not in run.stdout and not cache.exists()  # nothing was trained
    for bad in ("2/2", "-1/2", "a/2", "1", "1/0"):
        run = _bench("--config", str(cfg), f"--shard={bad}", cwd=tmp_path)
        assert run.returncode != 0 and "expected K/N" in run.stderr, bad
    run = _bench("--config", str(cfg), "--variant", "sort_channels=true", cwd=tmp_path)  # a removed option
    assert run.returncode != 0 and "--variant 'sort_channels=true': expected key=value with key one of" in run.stderr


def test_leave_one_out_taus_judge_a_run_and_the_supernet_against_the_same_rest():
    import numpy as np

    truth = np.arange(6, dtype=float)
    per_seed = np.stack([truth, truth, np.array([0, 2, 1, 3, 5, 4.0])])
    # seed 2 ranks two adjacent pairs the other way: against the mean of seeds 0-1 (= truth) tau is 11/15
    taus = ranking.leave_one_out_taus(per_seed)
    assert len(taus) == 3 and taus[2] == pytest.approx(11 / 15)
    # a supernet that knows the truth is judged against each rest: perfect where the rest is the truth
    sup = ranking.leave_one_out_taus(per_seed, inherited=truth)
    assert sup[2] == pytest.approx(1.0) and sup[0] < 1.0


def test_spread_architectures_do_not_depend_on_how_numpy_breaks_sort_ties(monkeypatch):
    # the committed stand-alone caches are keyed by architecture: a machine whose NumPy orders tied MAC counts
    # differently must still pick the same 20 networks (an unstable argsort changed 5-8 of them)
    space = Signal1DSpace(input_shape=(1, 40))
    picks = [space.key(a) for a in ranking.spread_archs(space, 20)]

    def ties_reversed(a, *args, **kwargs):  # a valid sort that orders equal values the other way round
        a = np.asarray(a)
        return np.array(sorted(range(len(a)), key=lambda i: (a[i], -i)), dtype=np.intp)

    monkeypatch.setattr(np, "argsort", ties_reversed)
    assert [space.key(a) for a in ranking.spread_archs(space, 20)] == picks
    macs = [sum(lay.macs for lay in space.layers(a)) for a in ranking.spread_archs(space, 20)]
    assert macs == sorted(macs) and len(set(picks)) == 20


def test_variant_values_read_as_yaml_so_a_configured_split_can_be_turned_off():
    base = TrainingConfig(few_shot="n_conv", distill=0.0, epochs=1200)
    v = standalone.parse_training("few_shot=null,epochs=300,distill=0.5", base)
    assert (v.few_shot, v.epochs, v.distill) == (None, 300, 0.5)
    assert standalone.parse_training("seed=2", base).few_shot == "n_conv"  # what a variant leaves out stays as configured
    with pytest.raises(ConfigError, match="expected key=value with key one of"):
        standalone.parse_training("fewshot=n_conv", base)


def test_grid_spread_covers_every_width_depth_combination_from_smallest_to_largest():
    from hwnas.spaces.text_encoder import TextEncoderSpace

    space = TextEncoderSpace(input_shape=(8,), num_classes=3, vocab_size=16)
    picks = ranking.grid_spread_archs(space, 20, ("width", "depth"))
    keys = [space.key(a) for a in picks]
    assert len(set(keys)) == 20 and keys[0] == space.key(space.smallest()) and keys[-1] == space.key(space.largest())
    cells = [(a["width"], a["depth"]) for a in picks]
    assert set(cells) == {(w, d) for w in space.widths for d in space.depths}
    assert max(cells.count(c) for c in set(cells)) == 3 and min(cells.count(c) for c in set(cells)) == 2
    # within a cell the heads and MLP sizes run from the smallest choices to the largest
    d3 = [a for a in picks if a["width"] == 24 and a["depth"] == 3]
    other = [int(space.to_genes(a)[2:].sum()) for a in d3]  # heads / MLP gene indices: 0 (first) .. 2 (last)
    assert min(other) <= 1 and max(other) >= 10
    macs = [sum(lay.macs for lay in space.layers(a)) for a in picks]
    assert macs == sorted(macs)
    assert [space.key(a) for a in ranking.grid_spread_archs(space, 20, ("width", "depth"))] == keys  # repeatable
    with pytest.raises(ConfigError, match=r"\['size'\] not of the space; allowed \['width', 'depth'"):
        ranking.grid_spread_archs(space, 20, ("size",))
    with pytest.raises(ConfigError, match="5 architectures cannot cover the 9 combinations"):
        ranking.grid_spread_archs(space, 5, ("width", "depth"))


def test_standalone_warmup_rises_linearly_then_follows_the_cosine_and_enters_the_cache_key():
    cfg = TrainingConfig(lr=1.0)
    from hwnas.supernet.train import cosine_lr

    # no warm-up: exactly the supernet's cosine schedule
    assert [standalone.warmup_cosine_lr(cfg, s, 100, 0) for s in range(100)] == [cosine_lr(cfg, s, 100)
                                                                                  for s in range(100)]
    lrs = [standalone.warmup_cosine_lr(cfg, s, 100, 10) for s in range(100)]
    assert lrs[:10] == pytest.approx([(s + 1) / 10 for s in range(10)])
    assert lrs[10] == pytest.approx(1.0) and lrs[10:] == pytest.approx([cosine_lr(cfg, s, 90) for s in range(90)])
    space = Signal1DSpace(input_shape=(1, 40))
    data = get_dataset("mnist1d")
    arch = space.largest()
    k0 = standalone.alone_key(space, data, arch, cfg, 0)
    assert standalone.alone_key(space, data, arch, cfg, 0, warmup=0.0) == k0  # runs without warm-up keep their keys
    assert standalone.alone_key(space, data, arch, cfg, 0, warmup=0.05) != k0
    for bad in (1.0, -0.1, "0.1", True):
        with pytest.raises(ConfigError, match="stand-alone warmup"):
            standalone.alone_key(space, data, arch, cfg, 0, warmup=bad)
