"""The public Python API: a study from a config (dict or file) or from objects, and its front."""

from __future__ import annotations

import subprocess
import sys

import pytest

import hwnas
from hwnas.core.errors import ConfigError
from hwnas.core.objectives import Objective
from hwnas.evaluators.table import TableEvaluator
from hwnas.spaces.nb201 import NB201Space


def _config(path: str = "table.csv", **over) -> dict:
    cfg = {"space": "nb201", "evaluator": {"name": "table", "options": {"path": path}},
           "objectives": ["acc:max", "lat_ms:min"], "constraints": ["lat_ms <= 9"],
           "strategy": {"name": "random"}, "study": {"name": "api", "storage": "api.db", "budget": 30, "seed": 1}}
    cfg.update(over)
    return cfg


def test_import_is_light():
    code = "import sys, hwnas; print(sorted(m for m in ('torch', 'pandas', 'hwnas.study') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_run_a_config_dict_and_a_file_give_the_same_study(tmp_path, synthetic_nb201_table):
    synthetic_nb201_table.to_csv(tmp_path / "table.csv", index=False)
    from_dict = hwnas.run(_config(), out=tmp_path / "o", base=tmp_path)
    assert from_dict.study.n_evaluated == 30 and (tmp_path / "api.db").exists()  # storage relative to base
    assert (tmp_path / "o" / "front.csv").exists() and (tmp_path / "o" / "trials.csv").exists()
    front = from_dict.study.pareto_front()
    assert front and [r["arch"] for r in from_dict.rows] == [NB201Space().format(t.arch) for t in front]
    assert all(r["lat_ms"] <= 9 for r in from_dict.rows)
    # the same config as a file in another folder: paths relative to the file, same architectures
    sub = tmp_path / "cfg"
    sub.mkdir()
    (sub / "c.yaml").write_text(
        "space: nb201\nevaluator: {name: table, options: {path: ../table.csv}}\n"
        "objectives: ['acc:max', 'lat_ms:min']\nconstraints: ['lat_ms <= 9']\nstrategy: random\n"
        "study: {name: api, storage: api.db, budget: 30, seed: 1}\n")
    from_file = hwnas.run(sub / "c.yaml")
    assert (sub / "api.db").exists()
    assert [t.key for t in from_file.study.trials] == [t.key for t in from_dict.study.trials]
    assert from_file.rows == from_dict.rows
    # a larger budget resumes the stored study
    more = hwnas.run(sub / "c.yaml", budget=40)
    assert more.study.n_evaluated == 40 and [t.key for t in more.study.trials[:30]] == [
        t.key for t in from_file.study.trials]


def test_run_refuses_old_keys_and_unknown_names(tmp_path):
    with pytest.raises(ConfigError, match=r"search.budget: key of the old schema; it now lives in study.budget"):
        hwnas.run({**_config(), "search": {"budget": 3}})
    with pytest.raises(ConfigError, match=r"unknown evaluator 'tabel'; allowed: \[.*'supernet', 'table'"):
        hwnas.run(_config(evaluator={"name": "tabel"}), base=tmp_path)
    with pytest.raises(ConfigError, match="evaluator 'supernet' needs .*'net'.* the train-once job"):
        hwnas.run(_config(evaluator="supernet", study={"storage": None}))


def test_search_from_objects(synthetic_nb201_table):
    space = NB201Space()
    evaluator = TableEvaluator(synthetic_nb201_table, space, columns=["acc", "lat_ms"])
    study = hwnas.search(space=space, evaluator=evaluator, objectives=["acc:max", Objective("lat_ms", "min")],
                         strategy="random", budget=25, constraints=["lat_ms <= 9"], seed=2)
    assert isinstance(study, hwnas.Study) and study.n_evaluated == 25
    front = study.pareto_front()
    assert front and all(t.metrics["lat_ms"] <= 9 for t in front)
    # nothing on the front is dominated by another evaluated feasible architecture
    ok = [t for t in study.trials if t.ok and t.metrics["lat_ms"] <= 9]
    for f in front:
        assert not any(o.metrics["acc"] >= f.metrics["acc"] and o.metrics["lat_ms"] <= f.metrics["lat_ms"]
                       and (o.metrics["acc"], o.metrics["lat_ms"]) != (f.metrics["acc"], f.metrics["lat_ms"])
                       for o in ok)
    # the same search from a config dict holding the same parts evaluates the same architectures
    same = hwnas.search(space="nb201", evaluator=[evaluator], objectives=["acc:max", "lat_ms:min"],
                        strategy="random", budget=25, constraints=["lat_ms <= 9"], seed=2)
    assert [t.key for t in same.trials] == [t.key for t in study.trials]
    with pytest.raises(ConfigError, match="strategy_options apply to a strategy given by name"):
        hwnas.search(space=space, evaluator=evaluator, objectives=["acc:max"],
                     strategy=study.strategy, strategy_options={"x": 1})
