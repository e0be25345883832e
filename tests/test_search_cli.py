"""`hwnas search` end to end: config errors, the printed front, and resume after Ctrl-C or kill -9 (real subprocesses)."""

import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from hwnas.cli.main import main

# evaluation slowed down so the process can be interrupted mid-search
# (SIGINT restored to Python's default: a shell that starts the test run in the background leaves it ignored)
SLOW = (
    "import signal, sys, time\n"
    "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
    "from hwnas.evaluators.table import TableEvaluator as T\n"
    "orig = T.evaluate\n"
    "T.evaluate = lambda self, a: (time.sleep(0.02), orig(self, a))[1]\n"
    "from hwnas.cli.main import main\n"
    "sys.exit(main(['search', '--config', sys.argv[1], '--quiet']))\n"
)


def _config(tmp_path, table, budget=120, strategy="random", extra=""):
    csv = tmp_path / "table.csv"
    if not csv.exists():
        table.to_csv(csv, index=False)
    cfg = tmp_path / "search.yaml"
    cfg.write_text(
        f"space: nb201\nevaluator: {{name: table, options: {{path: table.csv}}}}\n"
        f"objectives: ['acc:max', 'lat_ms:min']\nconstraints: ['lat_ms <= 9']\n"
        f"strategy: {{name: {strategy}}}\n"
        f"study: {{name: t, storage: study.db, budget: {budget}, batch_size: 4, seed: 3}}\n{extra}"
    )
    return cfg


def _states(db):
    with sqlite3.connect(db) as c:
        return c.execute("select key, state, metrics from hwnas_trials").fetchall()


def _wait_for(db, n, proc, timeout=60):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if db.exists():
            try:
                if sum(s == "complete" for _, s, _ in _states(db)) >= n:
                    return
            except sqlite3.OperationalError:
                pass
        assert proc.poll() is None, "search finished before it could be interrupted"
        time.sleep(0.05)
    raise AssertionError("search did not progress")


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_interrupt_then_same_command_resumes(tmp_path, synthetic_nb201_table, sig):
    cfg = _config(tmp_path, synthetic_nb201_table)
    db = tmp_path / "study.db"
    proc = subprocess.Popen([sys.executable, "-c", SLOW, str(cfg)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _wait_for(db, 30, proc)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=30)
    if sig == signal.SIGINT:
        assert proc.returncode == 130 and b"interrupted" in err
    else:
        assert proc.returncode == -signal.SIGKILL
    before = {k: m for k, s, m in _states(db) if s == "complete"}
    assert 30 <= len(before) < 120
    # the same command again
    out = subprocess.run([sys.executable, "-c", SLOW, str(cfg)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    rows = _states(db)
    assert len(rows) == 120 and len({k for k, _, _ in rows}) == 120
    assert all(s in ("complete", "failed") for _, s, _ in rows)
    after = {k: m for k, s, m in rows}
    assert all(after[k] == m for k, m in before.items())  # nothing recorded was lost or re-measured


def test_search_prints_front_and_writes_csv(tmp_path, synthetic_nb201_table, capsys):
    cfg = _config(tmp_path, synthetic_nb201_table, budget=40)
    assert main(["search", "--config", str(cfg), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "Pareto front" in text and "40 architectures evaluated" in text
    front = (tmp_path / "out" / "front.csv").read_text().splitlines()
    assert front[0].startswith("number,arch,state,acc,lat_ms") and len(front) >= 2
    assert len((tmp_path / "out" / "trials.csv").read_text().splitlines()) == 41
    # again with a larger budget: resumes and adds only the difference
    assert main(["search", "--config", str(cfg), "--budget", "50", "--quiet"]) == 0
    assert "resuming study 't'" in capsys.readouterr().out
    assert len(_states(tmp_path / "study.db")) == 50


def test_changed_config_is_refused(tmp_path, synthetic_nb201_table, capsys):
    cfg = _config(tmp_path, synthetic_nb201_table, budget=10)
    assert main(["search", "--config", str(cfg), "--quiet"]) == 0
    cfg.write_text(cfg.read_text().replace("lat_ms <= 9", "lat_ms <= 5"))
    assert main(["search", "--config", str(cfg), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "created with another configuration" in err and "lat_ms <= 9" in err and "lat_ms <= 5" in err


@pytest.mark.parametrize("edit, words", [
    ("objectives: []", "objectives: List should have at least 1 item"),
    ("objectives: ['acc:up']", "'min' or 'max'"),
    ("constraints: ['lat_ms == 3']", "METRIC OP NUMBER"),
    ("executor: {name: cluster}", "executor: unknown executor 'cluster'; allowed: ['process', 'ray', 'serial']"),
    ("executor: {name: process, options: {threads: 2}}", "executor 'process': unknown option(s) ['threads']; "
                                                          "allowed: ['workers', 'max_retries', 'timeout_s']"),
    ("executor: {name: process, workers: 2}", "executor.workers: key of the old schema; it now lives in "
                                              "executor.options.workers; allowed keys here: ['name', 'options']"),
    ("evaluator: {type: table, path: table.csv}", "evaluator.type: key of the old schema; it now lives in "
                                                  "evaluator.name"),
    ("evaluator: {name: table, options: {path: table.csv, column: x}}", "unknown option(s) ['column']; "
                                                                        "allowed: ['path', 'arch_column']"),
    ("study: {budget: 0}", "study.budget: Input should be greater than or equal to 1"),
    ("colour: blue", "colour: unknown field"),
    ("strategy: {name: magic}", "magic"),
])
def test_config_errors_name_the_field(tmp_path, synthetic_nb201_table, capsys, edit, words):
    cfg = _config(tmp_path, synthetic_nb201_table)
    key = edit.split(":")[0]
    lines = [ln for ln in cfg.read_text().splitlines() if not ln.startswith(key + ":")]
    cfg.write_text("\n".join(lines + [edit]) + "\n")
    assert main(["search", "--config", str(cfg), "--quiet"]) == 2
    assert words in capsys.readouterr().err


def test_missing_table_and_bad_yaml(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("space: nb201\nevaluator: {name: table, options: {path: nope.csv}}\nobjectives: ['a:max']\n")
    assert main(["search", "--config", str(cfg), "--quiet"]) == 2
    assert "nope.csv: file not found" in capsys.readouterr().err
    cfg.write_text("space: [unclosed\n")
    assert main(["search", "--config", str(cfg)]) == 2
    assert "not valid YAML" in capsys.readouterr().err


def test_targets_add_cost_models_by_name(tmp_path, synthetic_nb201_table, capsys):
    synthetic_nb201_table.to_csv(tmp_path / "table.csv", index=False)
    cfg = tmp_path / "t.yaml"
    cfg.write_text(
        "space: nb201_net\nevaluator: {name: table, options: {path: table.csv}}\n"
        "targets:\n  - {name: accelerator, options: {preset: edge_npu}, prefix: npu_}\n  - count\n"
        "objectives: ['acc:max', 'npu_energy_mj:min']\nconstraints: ['params <= 100000000']\n"
        "strategy: {name: random}\nstudy: {name: t, storage: s.db, budget: 8}\n"
    )
    assert main(["search", "--config", str(cfg), "--out", str(tmp_path / "o"), "--quiet"]) == 0
    header = (tmp_path / "o" / "trials.csv").read_text().splitlines()[0].split(",")
    assert {"acc", "npu_energy_mj", "npu_latency_ms", "macs", "params"} <= set(header)
    rows = (tmp_path / "o" / "trials.csv").read_text().splitlines()[1:]
    assert len(rows) == 8 and all(",complete," in r for r in rows)
    # a space without layer lists cannot be costed: said so, with the way out
    cfg.write_text(cfg.read_text().replace("space: nb201_net", "space: nb201").replace("name: t,", "name: u,"))
    assert main(["search", "--config", str(cfg), "--quiet"]) == 2
    assert "space 'nb201' has none; use a trainable space (for NB201 strings: nb201_net)" in capsys.readouterr().err
    cfg.write_text(cfg.read_text().replace("space: nb201\n", "space: nb201_net\n").replace("  - count", "  - abacus"))
    assert main(["search", "--config", str(cfg), "--quiet"]) == 2
    assert "unknown cost model 'abacus'" in capsys.readouterr().err


@pytest.mark.distributed
def test_three_hwnas_search_processes_share_one_study(tmp_path, synthetic_nb201_table):
    """The same `hwnas search --config F` started three times against one storage: one study, the budget
    shared, each architecture evaluated once, nothing left running."""
    cfg = _config(tmp_path, synthetic_nb201_table, budget=60, strategy="evolution")
    slower = SLOW.replace("time.sleep(0.02)", "time.sleep(0.1)")  # 6 s of work: every process gets a share
    procs = [subprocess.Popen([sys.executable, "-c", slower, str(cfg)], cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outs = [p.communicate(timeout=240) for p in procs]
    for p, (_, err) in zip(procs, outs):
        assert p.returncode == 0, err
    with sqlite3.connect(tmp_path / "study.db") as c:
        rows = c.execute("select key, state, worker from hwnas_trials").fetchall()
    keys = [k for k, _, _ in rows]
    assert len(rows) == 60 and len(set(keys)) == 60
    assert {s for _, s, _ in rows} <= {"complete", "failed"}
    assert len({w for _, _, w in rows}) >= 2  # the work was shared, not done by the first process alone
