import pytest
from study_fixtures import FlakyEvaluator, ProbeStrategy

from hwnas.core.errors import HwnasError, StudyMismatch
from hwnas.core.objectives import Constraint, Objective
from hwnas.evaluators.table import TableEvaluator
from hwnas.spaces.nb201 import NB201Space
from hwnas.storage import InMemoryStorage, SQLStorage
from hwnas.study import Study

OBJ = [Objective("acc", "max"), Objective("lat_ms", "min")]


@pytest.fixture(scope="module")
def evaluator(synthetic_nb201_table):
    return TableEvaluator(synthetic_nb201_table, NB201Space(), columns=["acc", "lat_ms"])


def test_budget_counts_distinct_evaluations_and_repeats_come_from_cache(evaluator):
    strat = ProbeStrategy(repeat_every=3)
    study = Study(NB201Space(), evaluator, OBJ, strat, batch_size=4, seed=1)
    study.optimize(40)
    assert study.n_evaluated == 40
    keys = [t.key for t in study.trials]
    assert len(set(keys)) == 40
    assert study.served_from_cache > 0
    # every told trial was recorded before, and told exactly once
    told = [k for batch in strat.told_batches for k in batch]
    assert sorted(told) == sorted(keys)
    # keys are canonical
    space = NB201Space()
    assert all(space.key(t.arch) == t.key for t in study.trials)


def test_faults_are_recorded_and_search_goes_on(evaluator):
    for mode in ("nan", "failed", "raise"):
        study = Study(NB201Space(), FlakyEvaluator(evaluator, every=4, mode=mode), OBJ, ProbeStrategy(), seed=2)
        study.optimize(20)
        failed = [t for t in study.trials if t.state == "failed"]
        assert study.n_evaluated == 20 and len(failed) == 5
        assert all(t.error for t in failed)
        assert all(t not in study.pareto_front() for t in failed)
    assert "non-finite" in failed[0].error or "driver crashed" in failed[0].error


def test_constraints_filter_the_front(evaluator):
    c = Constraint.parse("lat_ms <= 4")
    study = Study(NB201Space(), evaluator, OBJ, ProbeStrategy(), constraints=[c], seed=3)
    study.optimize(60)
    front = study.pareto_front()
    assert front and all(t.metrics["lat_ms"] <= 4 for t in front)
    # no feasible trial dominates a front member
    for f in front:
        for t in study.trials:
            if t.feasible([c]) and t is not f:
                assert not (t.metrics["acc"] >= f.metrics["acc"] and t.metrics["lat_ms"] <= f.metrics["lat_ms"]
                            and (t.metrics["acc"] > f.metrics["acc"] or t.metrics["lat_ms"] < f.metrics["lat_ms"]))


def test_unknown_objective_metric(evaluator):
    with pytest.raises(HwnasError, match=r"\['energy'\] are not produced"):
        Study(NB201Space(), evaluator, [Objective("energy")], ProbeStrategy())


def test_resume_from_sqlite_continues_without_repeating(tmp_path, evaluator):
    db = tmp_path / "s.db"
    s1 = Study(NB201Space(), evaluator, OBJ, ProbeStrategy(), storage=SQLStorage(db), name="x", seed=5)
    s1.optimize(15)
    first = {t.key: t.metrics for t in s1.trials}
    strat = ProbeStrategy()
    s2 = Study(NB201Space(), evaluator, OBJ, strat, storage=SQLStorage(db), name="x", seed=5)
    assert s2.n_evaluated == 15 and len(strat.trials) == 15  # strategy rebuilt from storage
    s2.optimize(30)
    assert s2.n_evaluated == 30
    assert len({t.key for t in s2.trials}) == 30
    assert all(first[k] == t.metrics for t in s2.trials if (k := t.key) in first)
    assert [t.number for t in s2.trials] == list(range(30))


def test_interrupted_running_trials_are_evaluated_again(tmp_path, evaluator):
    from hwnas.core.trial import Trial

    db = tmp_path / "s.db"
    storage = SQLStorage(db)
    s1 = Study(NB201Space(), evaluator, OBJ, ProbeStrategy(), storage=storage, name="x")
    s1.optimize(5)
    orphan = NB201Space().canonical("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|"
                                    "nor_conv_3x3~1|nor_conv_3x3~2|")
    storage.write("x", Trial(number=5, key=NB201Space().format(orphan), arch=orphan, state="running"))
    s2 = Study(NB201Space(), evaluator, OBJ, ProbeStrategy(), storage=SQLStorage(db), name="x")
    assert len(s2.interrupted) == 1 and s2.n_evaluated == 5
    s2.optimize(8)
    assert s2.n_evaluated == 8 and all(t.state != "running" for t in s2.trials)


def test_other_config_is_refused_with_what_differs(tmp_path, evaluator):
    db = tmp_path / "s.db"
    Study(NB201Space(), evaluator, OBJ, ProbeStrategy(), storage=SQLStorage(db), name="x").optimize(3)
    with pytest.raises(StudyMismatch, match=r"objectives: stored .*acc:max.* vs now .*acc:min"):
        Study(NB201Space(), evaluator, [Objective("acc", "min"), Objective("lat_ms")], ProbeStrategy(),
              storage=SQLStorage(db), name="x")
    with pytest.raises(StudyMismatch, match="seed"):
        Study(NB201Space(), evaluator, OBJ, ProbeStrategy(), storage=SQLStorage(db), name="x", seed=9)
    mem = InMemoryStorage()
    Study(NB201Space(), evaluator, OBJ, ProbeStrategy(), storage=mem, name="y")
    with pytest.raises(StudyMismatch, match="constraints"):
        Study(NB201Space(), evaluator, OBJ, ProbeStrategy(), constraints=[Constraint.parse("acc>=1")],
              storage=mem, name="y")


def test_corrupt_storage_file_is_a_clear_error(tmp_path):
    from hwnas.core.errors import ConfigError

    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not a database" * 100)
    with pytest.raises(ConfigError, match="not a usable database"):
        SQLStorage(bad)
    with pytest.raises(ConfigError, match=r"\.db, \.sqlite"):
        SQLStorage(tmp_path / "study.txt")


def test_whole_small_space_is_searched_then_stops(evaluator):
    from hwnas.spaces.base import ChoiceSpace, Dimension

    class Tiny(ChoiceSpace):
        name = "tiny"

    class Sum:
        metrics = ("s",)

        def bind(self, space):
            pass

        def evaluate(self, arch):
            return {"s": float(arch["a"] + arch["b"])}

        def describe(self):
            return {"type": "sum"}

    study = Study(Tiny([Dimension("a", (0, 1)), Dimension("b", (0, 1, 2))]), Sum(), [Objective("s")], ProbeStrategy())
    study.optimize(100)
    assert study.n_evaluated == 6
