import re

import pytest
from study_fixtures import FlakyEvaluator, ProbeStrategy

from hwnas.cli.main import main
from hwnas.core.errors import ConfigError
from hwnas.core.objectives import Constraint, Objective
from hwnas.evaluators.table import TableEvaluator
from hwnas.report.convergence import hypervolume_curve
from hwnas.spaces.nb201 import NB201Space
from hwnas.storage import SQLStorage
from hwnas.study import Study


def test_html_report_of_a_stored_study(tmp_path, synthetic_nb201_table, capsys):
    ev = FlakyEvaluator(TableEvaluator(synthetic_nb201_table, NB201Space(), columns=["acc", "lat_ms"]),
                        every=7, mode="failed")
    obj = [Objective("acc", "max"), Objective("lat_ms", "min")]
    study = Study(NB201Space(), ev, obj, ProbeStrategy(), constraints=[Constraint.parse("lat_ms <= 9")],
                  storage=SQLStorage(tmp_path / "s.db"), name="rep")
    study.optimize(30)
    out = tmp_path / "r.html"
    assert main(["report", "--storage", str(tmp_path / "s.db"), "--out", str(out)]) == 0
    page = out.read_text()
    assert len(re.findall(r"data:image/png;base64,", page)) == 2
    front = study.pareto_front()
    for t in front:  # every front member listed with its NB201 string
        assert NB201Space().format(t.arch) in page
    assert page.count("device unreachable") == 4
    assert "30 (4 failed" in page
    assert main(["report", "--storage", str(tmp_path / "s.db"), "--study", "nope"]) == 2
    assert "study 'nope' not found; stored studies: ['rep']" in capsys.readouterr().err


def test_hypervolume_curve_never_decreases(synthetic_nb201_table):
    ev = TableEvaluator(synthetic_nb201_table, NB201Space(), columns=["acc", "lat_ms"])
    obj = [Objective("acc", "max"), Objective("lat_ms", "min")]
    study = Study(NB201Space(), ev, obj, ProbeStrategy(), seed=4)
    study.optimize(40)
    n, hv = hypervolume_curve(study.trials, obj)
    assert list(n) == list(range(1, 41)) and hv[-1] > 0
    assert (hv[1:] >= hv[:-1] - 1e-12).all()


def test_missing_storage_file(tmp_path):
    from hwnas.cli.report import run

    class A:
        storage, study, out = str(tmp_path / "none.db"), None, tmp_path / "r.html"

    with pytest.raises(ConfigError, match="file not found"):
        run(A())
