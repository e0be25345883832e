"""The one measurement-table loader (spaces/table.py): file types, the arch column, numeric columns, bad rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hwnas.core.errors import DataError
from hwnas.costs.latency.evaluation import load_table
from hwnas.evaluators.table import TableEvaluator
from hwnas.spaces.nb201 import NB201Space
from hwnas.spaces.table import load_arch_table

SPACE = NB201Space()
A = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"
B = "|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"


def test_csv_and_parquet_read_alike_and_archs_are_parsed(tmp_path):
    frame = pd.DataFrame({"arch": [A, B], "lat": [1.0, 2.0], "index": [1, 0]})
    frame.to_csv(tmp_path / "t.csv", index=False)
    frame.to_parquet(tmp_path / "t.parquet")
    a = load_arch_table(tmp_path / "t.csv", SPACE)
    b = load_arch_table(tmp_path / "t.parquet", SPACE)
    assert np.array_equal(a.genes, b.genes) and np.array_equal(a.genes[0], SPACE.to_genes(A))
    assert a.numeric_columns == ["lat", "index"] and a.space_name == "nb201"
    assert np.array_equal(a.catalog, a.genes[[1, 0]])  # listed order follows the index column
    assert a.column("lat").tolist() == [1.0, 2.0]


def test_errors_name_the_file_the_column_and_the_line(tmp_path):
    with pytest.raises(DataError, match="unsupported file type '.txt'"):
        load_arch_table(tmp_path / "t.txt", SPACE)
    with pytest.raises(DataError, match="file not found"):
        load_arch_table(tmp_path / "missing.csv", SPACE)
    frame = pd.DataFrame({"arch": [A, "|bogus~0|+|x|+|y|"], "lat": ["1.0", "fast"]})
    with pytest.raises(DataError, match="no architecture column 'cell'"):
        load_arch_table(frame, SPACE, arch_column="cell")
    # requested numeric columns are checked before the architectures
    with pytest.raises(DataError, match="column 'lat' must be numeric, but row 2 \\(line 3\\) holds 'fast'"):
        load_arch_table(frame, SPACE, columns=["lat"])
    with pytest.raises(DataError, match="unknown column 'acc'; numeric columns are \\[\\]"):
        load_arch_table(frame, SPACE, columns=["acc"])
    with pytest.raises(DataError, match="row 2 \\(line 3\\), column 'arch'"):
        load_arch_table(frame, SPACE)
    table = load_arch_table(frame.iloc[:1], SPACE)
    with pytest.raises(DataError, match="column 'lat' must hold finite numbers"):
        load_arch_table(pd.DataFrame({"arch": [A, B], "lat": [1.0, np.nan]}), SPACE).column("lat")
    with pytest.raises(DataError, match="no column 'acc'"):
        table.column("acc")


def test_the_evaluator_and_the_predictor_read_tables_through_the_loader(tmp_path):
    frame = pd.DataFrame({"arch": [A, B], "lat": [1.0, 2.0]}, index=[5, 9])
    ev = TableEvaluator(frame, SPACE, columns=["lat"])
    assert ev.frame is not frame and list(ev.frame.index) == [5, 9]  # a copy, index kept (it enters the digest)
    assert np.array_equal(ev.genes, load_arch_table(frame, SPACE).genes)
    table = load_table(frame)
    assert list(table.frame.index) == [0, 1] and table.space.name == "nb201"
    with pytest.raises(DataError, match="table <dataframe>: no rows"):
        load_table(frame.iloc[:0])
