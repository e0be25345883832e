"""Plots a person can read: axes named by metric and unit, only non-dominated points marked as the front,
outliers clipped to the window's edge and counted, convergence raw unless a true front is known."""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from hwnas.core.objectives import Objective
from hwnas.core.trial import COMPLETE, Trial
from hwnas.evaluators.base import COST, QUALITY, MetricKind
from hwnas.evaluators.table import TableEvaluator
from hwnas.report.convergence import convergence
from hwnas.report.front_plot import Axis, FrontSeries, axis, plot_front
from hwnas.report.study_view import plotted_objectives
from hwnas.spaces.nb201 import NB201Space
from hwnas.strategies.random import RandomSearch
from hwnas.study import Study


def _dominated_by_any(p, others, x: Axis, y: Axis) -> bool:
    a = np.array(p) * [x.sign, y.sign]
    return any(((np.array(q) * [x.sign, y.sign]) <= a).all() and ((np.array(q) * [x.sign, y.sign]) < a).any()
               for q in others)


def test_axis_labels_name_metric_unit_and_direction():
    assert axis("cifar10_acc:max").label == "cifar10_acc (max)"
    assert axis("lat_ms:min").label == "lat_ms (ms, min)"
    assert axis("energy_mj:min").label == "energy_mj (mJ, min)"
    # the evaluator's declared kinds win over the name
    assert axis("score:min", {"score": MetricKind(COST, "cycles")}).label == "score (cycles, min)"
    assert axis(Objective("acc", "max"), note="val split").label == "acc (val split, max)"


def test_front_marked_is_nondominated_and_outliers_sit_at_the_edge(tmp_path):
    rng = np.random.default_rng(0)
    lat = rng.uniform(1, 5, 200)
    acc = 60 + 8 * np.log(lat) + rng.normal(0, 2, 200)
    evaluated = list(zip(lat, acc)) + [(3.0, 10.0), (2.0, 9.5), (40.0, 70.0)]  # three outliers
    x, y = axis("lat_ms:min"), axis("acc:max")
    true = [p for p in evaluated if not _dominated_by_any(p, evaluated, x, y)]
    # a member of a 3-objective front that two plotted metrics do not make optimal
    member = (4.5, 60.0)
    plot = plot_front(tmp_path / "f.png", x, y, evaluated, [FrontSeries("front", true + [member])])
    drawn = plot.fronts[0]
    assert sorted(drawn.marked) == sorted(true) and drawn.dominated == [member]
    assert not any(_dominated_by_any(p, evaluated, x, y) for p in drawn.marked)
    assert plot.xlabel == "lat_ms (ms, min)" and plot.ylabel == "acc (max)"
    (x0, x1), (y0, y1) = plot.window
    assert plot.outside == 3 and not (y0 <= 10.0 <= y1) and not (x0 <= 40.0 <= x1)
    inside = [(a, b) for a, b in evaluated if x0 <= a <= x1 and y0 <= b <= y1]
    assert len(inside) == len(evaluated) - 3  # everything else is shown
    assert all(x0 <= a <= x1 and y0 <= b <= y1 for a, b in drawn.marked + drawn.dominated)
    assert plot.path.stat().st_size > 1000


def test_a_series_judged_on_its_own_metric(tmp_path):
    """Test accuracy of front members: a member another member beats on test accuracy is not drawn as front."""
    x, y = axis("latency_ms:min"), Axis("accuracy", "max", "%")
    test = [(1.0, 80.0), (2.0, 78.0), (3.0, 90.0)]
    plot = plot_front(tmp_path / "f.png", x, y, [(1.0, 99.0)],
                      [FrontSeries("test", test, against_evaluated=False)])
    assert plot.fronts[0].marked == [(1.0, 80.0), (3.0, 90.0)] and plot.fronts[0].dominated == [(2.0, 78.0)]
    assert plot.ylabel == "accuracy (%, max)"


def test_train_once_plot_shows_searched_and_test_accuracy(tmp_path):
    from hwnas.app.train_once import plot_search

    objs = [Objective("accuracy", "max"), Objective("latency_ms", "min"), Objective("macs", "min")]
    metrics = [(90, 1.0, 5), (95, 2.0, 9), (93, 3.0, 1), (80, 4.0, 20)]  # (93, 3.0) is optimal only by macs
    trials = [Trial(i, str(i), {}, COMPLETE, {"accuracy": a, "latency_ms": lat, "macs": m})
              for i, (a, lat, m) in enumerate(metrics)]
    study = SimpleNamespace(trials=trials, objectives=objs, constraints=[])
    evaluator = SimpleNamespace(metric_kinds=lambda: {"accuracy": MetricKind(QUALITY), "latency_ms": MetricKind(COST, "ms"),
                                                      "macs": MetricKind(COST, "MAC")})
    front = trials[:3]
    rows = [{"accuracy": 85.0}, {"accuracy": 84.0}, {"accuracy": 91.0}]
    plot = plot_search(study, evaluator, front, rows, "latency_ms", "val", tmp_path / "front.png", "t")
    assert plot.xlabel == "latency_ms (ms, ONNX Runtime, this CPU, min)"
    assert plot.ylabel == "accuracy (%, max)"  # the series (searched split / test) are named in the legend
    searched, test = plot.fronts
    assert "val accuracy (searched)" in searched.label and "test accuracy (front.csv)" in test.label
    assert sorted(searched.marked) == [(1.0, 90.0), (2.0, 95.0)] and searched.dominated == [(3.0, 93.0)]
    assert test.marked == [(1.0, 85.0), (3.0, 91.0)] and test.dominated == [(2.0, 84.0)]


def test_report_plots_quality_against_cost():
    objs = [Objective("lat_ms", "min"), Objective("cifar10_acc", "max")]
    y, x = plotted_objectives(objs)
    assert (y.metric, x.metric) == ("cifar10_acc", "lat_ms")


def _table_study(table, budget):
    space = NB201Space()
    ev = TableEvaluator(table, space, columns=["acc", "lat_ms"])
    obj = [Objective("acc", "max"), Objective("lat_ms", "min")]
    study = Study(space, ev, obj, RandomSearch(), seed=1)
    study.optimize(budget)
    return study, obj


def test_convergence_is_raw_with_its_reference_unless_the_true_front_is_known(synthetic_nb201_table):
    table = synthetic_nb201_table.sample(300, random_state=0).reset_index(drop=True)
    study, obj = _table_study(table, 20)
    raw = convergence(study.trials, obj)
    assert not raw.normalised and "ref: acc" in raw.ylabel and "lat_ms" in raw.ylabel
    assert raw.hv[-1] > 1.0  # hypervolume in the metrics' units, not divided by its own final value
    assert np.all(np.diff(raw.hv) >= 0)
    assert set(raw.ref) == {"acc", "lat_ms"}
    true = table[["acc", "lat_ms"]].to_numpy()
    norm = convergence(study.trials, obj, true_front=true)
    assert norm.normalised and np.all(norm.hv <= 1.0 + 1e-9) and norm.hv[-1] < 1.0  # 20 of many: not found yet
    full, _ = _table_study(table, len(table))  # every row evaluated: the true front is found
    assert convergence(full.trials, obj, true_front=true).hv[-1] == pytest.approx(1.0)


def test_html_report_front_is_nondominated(tmp_path, synthetic_nb201_table):
    """The report's plot data: what is marked as front is non-dominated among the feasible evaluations."""
    table = pd.DataFrame(synthetic_nb201_table.iloc[::40]).reset_index(drop=True)
    study, obj = _table_study(table, 60)
    y, x = plotted_objectives(obj)
    pts = [(t.metrics[x.metric], t.metrics[y.metric]) for t in study.trials if t.ok]
    fr = [(t.metrics[x.metric], t.metrics[y.metric]) for t in study.pareto_front()]
    plot = plot_front(tmp_path / "f.png", axis(x), axis(y), pts, [FrontSeries("front", fr)])
    assert plot.fronts[0].marked and not plot.fronts[0].dominated
    assert not any(_dominated_by_any(p, pts, axis(x), axis(y)) for p in plot.fronts[0].marked)


def _view(n=300, seed=0, objectives=("acc:max", "lat_ms:min"), constraints=("lat_ms <= 4",), models=None):
    from hwnas.core.objectives import Constraint
    from hwnas.core.trial import FAILED
    from hwnas.report.study_view import StudyView

    rng = np.random.default_rng(seed)
    lat = rng.uniform(1, 5, n)
    trials = [Trial(i, str(i), {"i": i}, COMPLETE, {"acc": float(60 + 8 * np.log(lat[i]) + rng.normal(0, 2)),
                                                     "lat_ms": float(lat[i]), "mem": float(rng.uniform(1, 3))})
              for i in range(n)] + [Trial(n, "x", {"i": n}, FAILED, error="boom")]
    return StudyView("s", trials, [Objective.parse(o) for o in objectives],
                     [Constraint.parse(c) for c in constraints], lambda a: f"arch-{a['i']}", models or {})


def test_front_figure_draws_each_completed_trial_once_and_the_front_over_the_rest():
    from hwnas.report.front_figure import front_figure

    view = _view()
    view.models = {t.number: f"models/{t.number}.onnx" for t in view.front}
    fig = front_figure(view)
    by_name = {t.name.split(" (")[0]: t for t in fig.data}
    assert set(by_name) == {"evaluated", "infeasible", "Pareto front", "front, dominated on these axes"}
    numbers = [int(n) for t in fig.data for n in np.asarray(t.customdata)[:, 0]]
    assert sorted(numbers) == [t.number for t in view.completed]  # one point each; the failure is not plotted
    assert all(t.type == "scattergl" for t in fig.data)
    front = by_name["Pareto front"]
    assert sorted(int(n) for n in np.asarray(front.customdata)[:, 0]) == sorted(view.front_numbers)
    assert len(by_name["front, dominated on these axes"].x) == 0  # two objectives: the front is the 2-D front
    assert list(front.x) == sorted(front.x) and front.line.shape == "hv"  # a staircase, by latency
    assert all(x <= 4 for x in front.x) and all(x > 4 for x in by_name["infeasible"].x)
    assert all("breaks lat_ms <= 4" in s for s in by_name["infeasible"].text)
    assert all(s == f"arch-{int(n)}<br>model: models/{int(n)}.onnx"
               for s, n in zip(front.text, np.asarray(front.customdata)[:, 0]))
    assert [(s.type, s.x0) for s in fig.layout.shapes] == [("line", 4.0)]  # the constraint on the x axis
    assert fig.layout.xaxis.title.text == "lat_ms (ms, min)" and fig.layout.yaxis.title.text == "acc (max)"


def test_front_figure_with_three_objectives_shows_the_third_in_the_hover():
    from hwnas.report.front_figure import front_figure

    view = _view(objectives=("acc:max", "lat_ms:min", "mem:min"), constraints=())
    fig = front_figure(view)
    by_name = {t.name.split(" (")[0]: t for t in fig.data}
    assert "mem %{customdata[1]:.5g}" in by_name["evaluated"].hovertemplate
    hollow = by_name["front, dominated on these axes"]
    assert len(hollow.x) > 0  # optimal through mem only
    mem = {t.number: t.metrics["mem"] for t in view.completed}
    assert all(mem[int(n)] == m for n, m in np.asarray(hollow.customdata)[:, :2])
    assert len(front_figure(view).layout.shapes) == 0


def test_parallel_coordinates_draw_the_whole_front_and_a_stated_sample_of_the_rest(monkeypatch):
    from hwnas.report import parallel

    view = _view(n=400, objectives=("acc:max", "lat_ms:min", "mem:min"))
    fig = parallel.parallel_figure(view)
    dims = fig.data[0].dimensions
    assert [d.label for d in dims] == ["acc (max)", "lat_ms (min, <= 4)", "mem (min)"]
    assert len(dims[0].values) == len(view.completed) and "sample" not in fig.layout.title.text
    monkeypatch.setattr(parallel, "MAX_LINES", 50)
    fig = parallel.parallel_figure(view)
    color = np.asarray(fig.data[0].line.color)
    assert len(color) == len(view.front) + 50 and (color == 2).sum() == len(view.front)
    assert list(color) == sorted(color)  # the front drawn last, on top
    assert "all the front and 50 others" in fig.layout.title.text


def test_convergence_figure_keeps_only_the_evaluations_that_moved_the_front(synthetic_nb201_table):
    from hwnas.report.convergence import convergence_figure

    table = synthetic_nb201_table.sample(300, random_state=0).reset_index(drop=True)
    study, obj = _table_study(table, 60)
    c = convergence(study.trials, obj)
    line = convergence_figure(c).data[0]
    changes = 1 + int((np.diff(c.hv) != 0).sum())
    assert len(line.x) in (changes, changes + 1) and line.x[-1] == 60 and line.line.shape == "hv"
    assert list(line.y) == [c.hv[int(n) - 1] for n in line.x]
