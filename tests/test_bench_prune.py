"""benchmarks/bench_prune.py run as a program: one row per fine-tuning length, all from the same pruned network."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_each_fine_tuning_length_is_a_row_of_the_same_pruned_network(tmp_path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
               HWNAS_CACHE=str(tmp_path / "cache"), OMP_NUM_THREADS="1")
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_prune.py"), "--configs",
                        str(ROOT / "examples" / "digits.yaml"), "--epochs", "1", "--finetune", "0", "2",
                        "--repeats", "5", "--seeds", "3"], cwd=tmp_path, env=env, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr
    rows = [line.strip("|").split("|") for line in r.stdout.splitlines() if line.startswith("| digits |")]
    assert [int(c[2]) for c in rows] == [0, 2]
    cells = [[c.strip() for c in row] for row in rows]
    # same pruned network: channels, parameters, latencies, accuracy before fine-tuning are shared
    assert cells[0][3:9] == cells[1][3:9] and cells[0][9] == cells[1][9]
    assert 0.4 < float(cells[0][3]) < 0.65
    # no fine-tuning leaves the pruned accuracy as it is; two epochs change it
    assert cells[0][10] == cells[0][9] and cells[1][10] != cells[1][9]
