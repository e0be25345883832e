import math

import pandas as pd
import pytest

from hwnas.core.errors import DataError, EvaluationFailed
from hwnas.evaluators.table import TableEvaluator
from hwnas.spaces.nb201 import NB201Space

A = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"
B = "|avg_pool_3x3~0|+|skip_connect~0|none~1|+|none~0|none~1|skip_connect~2|"


def _write(tmp_path, rows, name="t.csv"):
    p = tmp_path / name
    pd.DataFrame(rows).to_csv(p, index=False)
    return p


def test_lookup_by_column_name(tmp_path):
    p = _write(tmp_path, {"arch": [A, B], "acc": [93.1, 80.0], "lat": [10.0, 1.0]})
    ev = TableEvaluator(p, NB201Space(), columns=["acc", "lat"])
    assert ev.evaluate(NB201Space().parse(A)) == {"acc": 93.1, "lat": 10.0}
    # B's canonical form is not a row, but its equivalence class is found
    space = NB201Space()
    assert ev.evaluate(space.canonical(B)) == {"acc": 80.0, "lat": 1.0}


def test_parquet(tmp_path):
    p = tmp_path / "t.parquet"
    pd.DataFrame({"arch": [A], "acc": [1.0]}).to_parquet(p)
    assert TableEvaluator(p, NB201Space()).evaluate(A) == {"acc": 1.0}


def test_malformed_arch_names_row(tmp_path):
    p = _write(tmp_path, {"arch": [A, "|bogus~0|+|x|"], "acc": [1.0, 2.0]})
    with pytest.raises(DataError, match=r"row 2 \(line 3\), column 'arch'"):
        TableEvaluator(p, NB201Space())


def test_unknown_and_non_numeric_columns(tmp_path):
    p = _write(tmp_path, {"arch": [A, B], "acc": [1.0, 2.0], "note": ["x", "fast"]})
    with pytest.raises(DataError, match=r"unknown column 'latency'.*numeric columns are \['acc'\]"):
        TableEvaluator(p, NB201Space(), columns=["latency"])
    with pytest.raises(DataError, match=r"column 'note' must be numeric, but row 1 \(line 2\) holds 'x'"):
        TableEvaluator(p, NB201Space(), columns=["note"])
    with pytest.raises(DataError, match="no architecture column 'cell'"):
        TableEvaluator(p, NB201Space(), arch_column="cell")
    with pytest.raises(DataError, match="unsupported file type"):
        TableEvaluator(tmp_path / "t.xlsx", NB201Space())
    with pytest.raises(DataError, match="file not found"):
        TableEvaluator(tmp_path / "missing.csv", NB201Space())


def test_nan_fails_that_evaluation_only(tmp_path):
    p = _write(tmp_path, {"arch": [A, B], "acc": [math.nan, 2.0]})
    ev = TableEvaluator(p, NB201Space())
    with pytest.raises(EvaluationFailed, match=r"row 1 \(line 2\), column 'acc' is nan"):
        ev.evaluate(A)
    assert ev.evaluate(B) == {"acc": 2.0}
    other = "|none~0|+|none~0|none~1|+|nor_conv_1x1~0|none~1|none~2|"
    with pytest.raises(EvaluationFailed, match="not in table"):
        ev.evaluate(other)


def test_real_table_loads(nb201_csv):
    ev = TableEvaluator(nb201_csv, NB201Space(), columns=["cifar10_acc", "pi5_onnx_latency_ms"])
    assert len(ev.frame) == 15625
    m = ev.evaluate(ev.frame.arch[1])
    assert m["cifar10_acc"] == pytest.approx(93.66)
