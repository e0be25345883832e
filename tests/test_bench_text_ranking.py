"""benchmarks/bench_text_ranking.py run as a program on a tiny generated task: figures, caches, --only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "bench_text_ranking.py"
TINY = ["--num-samples", "600", "--n", "9", "--seeds", "2", "--supernet-seeds", "2",
        "--alone-training", "batch_size=128,epochs=1", "--supernet-training", "batch_size=128,epochs=1"]


def _bench(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
               OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, str(SCRIPT), *TINY, "--cache", "alone.json", "--supernet-cache", "sup.json",
                           *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def test_ranking_bench_scores_supernet_seeds_against_the_seed_mean_and_reuses_its_caches(tmp_path):
    only = _bench("--only", "supernet", cwd=tmp_path)  # supernets alone: no stand-alone run, no figures
    assert only.returncode == 0, only.stderr
    assert "alone " not in only.stdout and len(json.loads((tmp_path / "sup.json").read_text())) == 2
    run = _bench("--out", "out.json", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stdout.count("alone ") == 18 and "supernet 'config'" not in run.stdout  # supernets from the cache
    out = json.loads((tmp_path / "out.json").read_text())
    ref, res = out["summary"]["reference"], out["summary"]["results"][0]
    assert ref["training"]["warmup"] == 0.05 and len(ref["alone_seed_vs_seed_tau"]) == 1
    assert len(res["per_seed"]) == 2 and -1 <= res["kendall_tau_median"] <= 1
    rows = out["rows"]
    assert len(rows) == 9 and {json.loads(r["arch"])["depth"] for r in rows} == {1, 2, 3}
    assert all(len(r["alone"]) == 2 and len(r["inherited"]) == 2 for r in rows)
    again = _bench("--out", "out2.json", cwd=tmp_path)  # everything cached: the same figures, nothing trained
    assert again.returncode == 0 and "alone " not in again.stdout
    assert json.loads((tmp_path / "out2.json").read_text()) == out
    bad = _bench("--alone-training", "distill=0", cwd=tmp_path)
    assert bad.returncode != 0 and "'distill' is not a stand-alone setting" in bad.stderr
