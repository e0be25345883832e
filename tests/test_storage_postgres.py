"""The same study contract on PostgreSQL: a throwaway server on a unix socket, no network."""

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from study_fixtures import ProbeStrategy

from hwnas.core.errors import StudyMismatch
from hwnas.core.objectives import Objective
from hwnas.evaluators.table import TableEvaluator
from hwnas.spaces.nb201 import NB201Space
from hwnas.storage import SQLStorage
from hwnas.study import Study


def _pg_bin(name):
    found = shutil.which(name)
    if found:
        return found
    for d in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (d / name).exists():
            return str(d / name)
    return None


@pytest.fixture(scope="module")
def pg_url():
    pytest.importorskip("psycopg", reason="PostgreSQL storage needs psycopg: pip install 'hwnas[postgres]'")
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if not (initdb and pg_ctl):
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not installed; apt-get install postgresql")
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    root = Path(tempfile.mkdtemp(prefix="hwnas-pg-"))
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    if as_user:
        shutil.chown(root, "postgres")
        shutil.chown(sock, "postgres")
    subprocess.run(as_user + [initdb, "-D", str(data), "-U", "postgres", "--auth=trust"], check=True,
                   capture_output=True)
    subprocess.run(as_user + [pg_ctl, "-D", str(data), "-o", f"-c listen_addresses='' -k {sock}", "-w",
                              "-l", str(root / "log"), "start"], check=True, capture_output=True)
    try:
        url = f"postgresql+psycopg://postgres@/postgres?host={sock}"
        for _ in range(50):
            try:
                SQLStorage(url)
                break
            except Exception:
                time.sleep(0.1)
        yield url
    finally:
        subprocess.run(as_user + [pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def test_study_resumes_on_postgres(pg_url, synthetic_nb201_table):
    ev = TableEvaluator(synthetic_nb201_table, NB201Space(), columns=["acc", "lat_ms"])
    obj = [Objective("acc", "max"), Objective("lat_ms", "min")]
    s1 = Study(NB201Space(), ev, obj, ProbeStrategy(), storage=SQLStorage(pg_url), name="pg", seed=1)
    s1.optimize(12)
    s2 = Study(NB201Space(), ev, obj, ProbeStrategy(), storage=SQLStorage(pg_url), name="pg", seed=1)
    assert s2.n_evaluated == 12
    s2.optimize(20)
    storage = SQLStorage(pg_url)
    storage.open_study("pg", s2.fingerprint())
    rows = storage.trials("pg")
    assert len(rows) == 20 and len({t.key for t in rows}) == 20
    assert {t.key: t.metrics for t in s1.trials}.items() <= {t.key: t.metrics for t in rows}.items()
    with pytest.raises(StudyMismatch, match="seed"):
        Study(NB201Space(), ev, obj, ProbeStrategy(), storage=SQLStorage(pg_url), name="pg", seed=2)
