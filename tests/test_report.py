import re

import numpy as np
import pytest
from study_fixtures import FlakyEvaluator, ProbeStrategy

from hwnas.app.report import write_study_report
from hwnas.cli.main import main
from hwnas.core.errors import ConfigError
from hwnas.core.objectives import Constraint, Objective
from hwnas.core.pareto import hypervolume
from hwnas.evaluators.table import TableEvaluator
from hwnas.report.convergence import hypervolume_curve, reference_point
from hwnas.spaces.nb201 import NB201Space
from hwnas.storage import SQLStorage
from hwnas.study import Study


def _stored_study(tmp_path, table, objectives, name="rep", budget=30, columns=("acc", "lat_ms")):
    ev = FlakyEvaluator(TableEvaluator(table, NB201Space(), columns=list(columns)), every=7, mode="failed")
    study = Study(NB201Space(), ev, objectives, ProbeStrategy(), constraints=[Constraint.parse("lat_ms <= 9")],
                  storage=SQLStorage(tmp_path / "s.db"), name=name)
    study.optimize(budget)
    return study


def test_html_report_of_a_stored_study(tmp_path, synthetic_nb201_table, capsys):
    study = _stored_study(tmp_path, synthetic_nb201_table, [Objective("acc", "max"), Objective("lat_ms", "min")])
    out = tmp_path / "r.html"
    assert main(["report", "--storage", str(tmp_path / "s.db"), "--out", str(out)]) == 0
    page = out.read_text()
    assert page.count("* plotly.js v") == 1  # inlined once for the whole page
    assert "<img" not in page and not re.search(r"<script[^>]+src=|<link[^>]+href=", page)
    assert 'id="front"' in page and 'id="convergence"' in page and 'id="parallel"' not in page
    front = study.pareto_front()
    table = page[page.index("id='front-table'"):page.index("id='failures'")]
    assert table.count("<tr>") == len(front) + 1  # header + one row per front member
    for t in front:  # every front member listed with its NB201 string
        assert NB201Space().format(t.arch) in table
    failures = page[page.index("id='failures'"):]
    assert failures.count("device unreachable") == 4 + 1  # the four failures and their reason's count
    assert "<td class='num'>4</td><td>device unreachable</td>" in failures
    assert "30 (4 failed" in page
    assert main(["report", "--storage", str(tmp_path / "s.db"), "--study", "nope"]) == 2
    assert "--study 'nope': not in " in capsys.readouterr().err


def test_three_objectives_get_a_parallel_coordinates_view(tmp_path, synthetic_nb201_table):
    table = synthetic_nb201_table.assign(mem=synthetic_nb201_table["lat_ms"] % 3)
    _stored_study(tmp_path, table, [Objective("acc", "max"), Objective("lat_ms", "min"), Objective("mem", "min")],
                  columns=("acc", "lat_ms", "mem"))
    page = write_study_report(tmp_path / "s.db", tmp_path / "r.html").read_text()
    assert 'id="parallel"' in page and page.count("* plotly.js v") == 1
    assert '"type":"parcoords"' in page


def test_a_report_of_a_missing_study_lists_the_stored_ones(tmp_path, synthetic_nb201_table):
    objs = [Objective("acc", "max"), Objective("lat_ms", "min")]
    _stored_study(tmp_path, synthetic_nb201_table, objs, name="first", budget=3)
    _stored_study(tmp_path, synthetic_nb201_table, objs, name="second", budget=3)
    with pytest.raises(ConfigError, match=r"--study 'third': not in .*s\.db; it holds \['first', 'second'\]"):
        write_study_report(tmp_path / "s.db", tmp_path / "r.html", "third")
    with pytest.raises(ConfigError, match=r"--study is needed: .* holds \['first', 'second'\]"):
        write_study_report(tmp_path / "s.db", tmp_path / "r.html")
    assert not (tmp_path / "r.html").exists()
    SQLStorage(tmp_path / "empty.db")
    with pytest.raises(ConfigError, match="it holds no studies"):
        write_study_report(tmp_path / "empty.db", tmp_path / "r.html", "any")


def test_the_report_links_the_models_a_train_once_study_exported(tmp_path, synthetic_nb201_table):
    study = _stored_study(tmp_path, synthetic_nb201_table, [Objective("acc", "max"), Objective("lat_ms", "min")],
                          name="supernet")  # the default train-once study writes its front beside study.db
    front = study.pareto_front()
    rows = ["arch,accuracy,latency_ms,macs,params,model"] + [
        f"{NB201Space().format(t.arch)},1,1,1,1,models/m{i}.onnx" for i, t in enumerate(front)]
    (tmp_path / "front.csv").write_text("\n".join(rows) + "\n")
    page = write_study_report(tmp_path / "s.db", tmp_path / "sub" / "r.html").read_text()
    hover = page.replace("\\u002f", "/")  # the JSON of the plot escapes '/'
    for i in range(len(front)):  # relative to the report's folder, in the table and in the hover text
        assert f"<a href='../models/m{i}.onnx'>../models/m{i}.onnx</a>" in page
        assert hover.count(f"model: ../models/m{i}.onnx") == 1


def test_hypervolume_curve_never_decreases(synthetic_nb201_table):
    ev = TableEvaluator(synthetic_nb201_table, NB201Space(), columns=["acc", "lat_ms"])
    obj = [Objective("acc", "max"), Objective("lat_ms", "min")]
    study = Study(NB201Space(), ev, obj, ProbeStrategy(), seed=4)
    study.optimize(40)
    n, hv = hypervolume_curve(study.trials, obj)
    assert list(n) == list(range(1, 41)) and hv[-1] > 0
    assert (hv[1:] >= hv[:-1] - 1e-12).all()


def test_hypervolume_curve_equals_the_hypervolume_of_each_prefix():
    """The curve recomputes only when a point enters the front; each value is still the prefix's hypervolume."""
    from hwnas.core.trial import COMPLETE, Trial

    rng = np.random.default_rng(3)
    obj = [Objective("a", "max"), Objective("b", "min"), Objective("c", "min")]
    cons = [Constraint.parse("b <= 0.8")]
    trials = [Trial(i, str(i), {}, COMPLETE, {"a": float(x), "b": float(y), "c": float(z)})
              for i, (x, y, z) in enumerate(rng.random((120, 3)))]
    _, hv = hypervolume_curve(trials, obj, cons)
    F = np.array([t.values(obj) if t.feasible(cons) else [np.nan] * 3 for t in trials])
    ref = reference_point(F[np.isfinite(F).all(axis=1)])
    brute = [hypervolume(F[: i + 1][np.isfinite(F[: i + 1]).all(axis=1)], ref) for i in range(len(trials))]
    assert np.allclose(hv, brute) and len(set(hv)) > 5


def test_missing_storage_file(tmp_path):
    from hwnas.cli.report import run

    class A:
        storage, study, out = str(tmp_path / "none.db"), None, tmp_path / "r.html"

    with pytest.raises(ConfigError, match="file not found"):
        run(A())


def test_a_table_search_writes_its_report_beside_the_front(tmp_path, synthetic_nb201_table):
    import hwnas

    synthetic_nb201_table.to_csv(tmp_path / "table.csv", index=False)
    cfg = {"space": "nb201", "evaluator": {"name": "table", "options": {"path": "table.csv"}},
           "objectives": ["acc:max", "lat_ms:min"], "constraints": ["lat_ms <= 9"],
           "strategy": {"name": "random"}, "study": {"name": "t", "storage": "t.db", "budget": 20, "seed": 1}}
    result = hwnas.run(cfg, out=tmp_path / "o", base=tmp_path)
    page = (tmp_path / "o" / "report.html").read_text()
    assert "20 (0 failed" in page and page.count("* plotly.js v") == 1
    for t in result.study.pareto_front():  # written as the table writes it
        assert f"<code>{NB201Space().format(t.arch)}</code>" in page


def test_a_study_with_nothing_evaluated_still_gets_a_page(tmp_path):
    from hwnas.report.html import write_html
    from hwnas.report.study_view import StudyView

    page = write_html(StudyView("empty", [], [Objective("acc", "max"), Objective("lat_ms", "min")]),
                      tmp_path / "r.html").read_text()
    assert "0 (0 failed, 0 feasible)" in page and "plotly" not in page
    assert "document.documentElement.dataset.rendered" in page  # nothing to wait for


@pytest.mark.postgres
def test_a_report_of_a_postgresql_study(tmp_path, pg_url, synthetic_nb201_table):
    objs = [Objective("acc", "max"), Objective("lat_ms", "min")]
    ev = TableEvaluator(synthetic_nb201_table, NB201Space(), columns=["acc", "lat_ms"])
    study = Study(NB201Space(), ev, objs, ProbeStrategy(), storage=SQLStorage(pg_url), name="pg")
    study.optimize(12)
    page = write_study_report(pg_url, tmp_path / "r.html").read_text()
    assert "12 (0 failed" in page and all(NB201Space().format(t.arch) in page for t in study.pareto_front())
    with pytest.raises(ConfigError, match=r"--study 'other': not in .*; it holds \['pg'\]"):
        write_study_report(pg_url, tmp_path / "r.html", "other")
