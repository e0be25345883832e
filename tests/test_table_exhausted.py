"""A table search respects the table: proposals outside it cost nothing, the search stops when every
architecture of the table is evaluated, and outputs spell architectures as the table does."""

import csv

import numpy as np
import pytest
import yaml

from hwnas.cli.main import main
from hwnas.spaces.nb201 import NB201Space


def _partial_table(full, n=282, seed=0):
    """``n`` distinct cells of the synthetic NB201 table, each written in a non-canonical spelling where the
    cell has one (as a user's measurements may be), so the canonical key and the table's text differ."""
    space = NB201Space()
    genes = np.stack([space.to_genes(a) for a in full["arch"]])
    keys = [space.format(space.from_genes(c)) for c in space.canonical_genes(genes)]
    groups: dict[str, list[int]] = {}
    for i, k in enumerate(keys):
        groups.setdefault(k, []).append(i)
    rng = np.random.default_rng(seed)
    multi = sorted(k for k, g in groups.items() if len(g) > 1)  # cells with dead edges: several spellings
    single = sorted(k for k, g in groups.items() if len(g) == 1)
    chosen = [*rng.choice(multi, size=n // 2, replace=False), *rng.choice(single, size=n - n // 2, replace=False)]
    rows = [next((i for i in groups[k] if full["arch"].iloc[i] != k), groups[k][0]) for k in chosen]
    table = full.iloc[rows].reset_index(drop=True)
    spelled = sum(a != k for a, k in zip(table["arch"], chosen))
    return table, spelled


@pytest.mark.parametrize("strategy", ["random", "linas"])
def test_budget_beyond_the_table_stops_with_a_message(tmp_path, synthetic_nb201_table, capsys, strategy):
    table, spelled = _partial_table(synthetic_nb201_table)
    assert len(table) == 282 and spelled == 141  # most rows are spelled otherwise than their canonical key
    table.to_csv(tmp_path / "t.csv", index=False)
    cfg = {"space": "nb201", "evaluator": {"name": "table", "options": {"path": "t.csv"}},
           "objectives": ["acc:max", "lat_ms:min"], "strategy": {"name": strategy},
           "study": {"name": "t", "storage": "study.db", "budget": 50, "seed": 0}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    out = tmp_path / "out"
    assert main(["search", "--config", str(tmp_path / "c.yaml"), "--out", str(out), "--budget", "300", "--quiet"]) == 0
    text = capsys.readouterr().out
    assert f"table exhausted: all 282 distinct architectures of {tmp_path / 't.csv'} evaluated (budget 300)" in text
    assert "282 architectures evaluated (0 failed)" in text
    with open(out / "trials.csv") as f:
        trials = list(csv.DictReader(f))
    assert len(trials) == 282 and not [t for t in trials if t["state"] != "complete" or t["error"]]
    spellings = set(table["arch"])
    assert {t["arch"] for t in trials} == spellings  # every architecture written as the table writes it
    with open(out / "front.csv") as f:
        front = list(csv.DictReader(f))
    assert front and all(r["arch"] in spellings for r in front)
    # the front is the table's own front on (acc max, lat_ms min)
    acc, lat = table["acc"].to_numpy(), table["lat_ms"].to_numpy()
    best = {a for a, x, y in zip(table["arch"], acc, lat) if not ((acc >= x) & (lat <= y) & ((acc > x) | (lat < y))).any()}
    assert {r["arch"] for r in front} == best
    # running again: already exhausted, nothing evaluated, the message again
    assert main(["search", "--config", str(tmp_path / "c.yaml"), "--out", str(out), "--budget", "300", "--quiet"]) == 0
    assert "table exhausted" in capsys.readouterr().out


def test_proposals_outside_the_table_are_dropped_uncounted(synthetic_nb201_table):
    """A strategy that ignores the catalog (proposes from the whole space) wastes no budget on the table's gaps."""
    from hwnas.core.objectives import Objective
    from hwnas.evaluators.table import TableEvaluator
    from hwnas.strategies.base import Strategy
    from hwnas.study import Study

    class Everywhere(Strategy):
        name = "everywhere"

        def ask(self, n):
            return [self.space.from_genes(g) for g in self.space.sample_genes(self.rng, n)]

    space = NB201Space()
    table, _ = _partial_table(synthetic_nb201_table, n=40)
    ev = TableEvaluator(table, space, columns=["acc", "lat_ms"])
    study = Study(space, ev, [Objective.parse("acc:max"), Objective.parse("lat_ms:min")],
                  Everywhere(), batch_size=8)
    study.optimize(100)
    assert study.exhausted and study.catalog_size == 40 and study.n_evaluated == 40
    assert all(t.ok for t in study.trials) and study.outside_catalog > 0
    # the table's spelling of a trial: the row's own text
    assert {ev.spelling(t.arch) for t in study.trials} == set(table["arch"])
