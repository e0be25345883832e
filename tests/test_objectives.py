import numpy as np
import pytest

from hwnas.core.errors import ConfigError
from hwnas.core.objectives import Constraint, Objective


def test_objective_parse_and_sign():
    o = Objective.parse("cifar10_acc:max")
    assert (o.metric, o.direction, o.sign) == ("cifar10_acc", "max", -1.0)
    assert Objective.parse("latency_ms").direction == "min"
    with pytest.raises(ConfigError, match="'min' or 'max'"):
        Objective.parse("acc:up")


def test_constraint_parse_and_check():
    c = Constraint.parse("latency_ms <= 5")
    assert c.satisfied({"latency_ms": 5.0}) and not c.satisfied({"latency_ms": 5.1})
    assert not c.satisfied({"latency_ms": float("nan")}) and not c.satisfied({})
    assert np.allclose(c.violation(np.array([4.0, 7.0])), [0.0, 2.0])
    assert Constraint.parse("acc>=90").violation(np.array([85.0]))[0] == 5.0
    for bad in ("latency_ms == 5", "latency_ms <= fast", "<= 5"):
        with pytest.raises(ConfigError, match="METRIC OP NUMBER"):
            Constraint.parse(bad)
