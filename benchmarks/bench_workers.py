"""Wall time of one study run by 4 worker processes against 1, on SQLite and on PostgreSQL.

Each worker is this script started again with ``--worker``: it opens the study on the shared storage and
runs it to the budget with the library (``hwnas.study.Study``), as ``hwnas search --config F`` does in each
process. The evaluator sleeps ``--delay`` seconds per architecture (an evaluation that waits on a device or a
training job, so four workers on a two-core machine are not CPU-bound), then computes two metrics from
the NB201 cell. Reports the wall time from starting the workers to the last one's exit (start-up included),
the time spent searching (first worker's start of ``optimize`` to the last one's end), the evaluations
each worker made, and checks the records: ``budget`` distinct keys, none left running.
``--postgres auto`` starts a private PostgreSQL server (``tests/pg_server.py``, as the test session does).

    .venv/bin/python benchmarks/bench_workers.py --budget 120 --delay 0.1 --postgres auto
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

from hwnas.core.objectives import Objective
from hwnas.evaluators.base import Evaluator
from hwnas.spaces.nb201 import NB201Space
from hwnas.storage import SQLStorage
from hwnas.strategies import get_strategy
from hwnas.study import Study


class Sleepy(Evaluator):
    metrics = ("acc", "lat_ms")

    def __init__(self, delay: float):
        self.delay = delay

    def bind(self, space):
        self.space = space

    def evaluate(self, arch):
        time.sleep(self.delay)
        g = self.space.to_genes(arch)
        return {"acc": float(50 + 7 * (g == 3).sum() + 3 * (g == 2).sum()), "lat_ms": float(1 + 2 * (g == 3).sum())}

    def describe(self):
        return {"type": "sleepy"}


def worker(storage: str, budget: int, delay: float) -> None:
    study = Study(NB201Space(), Sleepy(delay), [Objective("acc", "max"), Objective("lat_ms", "min")],
                  get_strategy("random"), storage=SQLStorage(storage), name="bench", batch_size=4, seed=0,
                  heartbeat_s=1.0, grace_s=10.0)
    t0 = time.time()
    study.optimize(budget)
    print(json.dumps({"start": t0, "end": time.time()}), flush=True)


def run(storage: str, workers: int, budget: int, delay: float) -> dict:
    t0 = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, __file__, "--worker", storage, "--budget", str(budget),
                               "--delay", str(delay)], stdout=subprocess.PIPE, text=True) for _ in range(workers)]
    outs = [p.communicate()[0] for p in procs]
    codes = [p.returncode for p in procs]
    wall = time.perf_counter() - t0
    spans = [json.loads(o.strip().splitlines()[-1]) for o in outs]
    searching = max(s["end"] for s in spans) - min(s["start"] for s in spans)
    engine = sa.create_engine(storage)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT key, state, worker FROM hwnas_trials")).all()
    engine.dispose()
    assert codes == [0] * workers, codes
    assert len(rows) == budget and len({r.key for r in rows}) == budget, len(rows)
    assert all(r.state == "complete" for r in rows)
    per = sorted((sum(r.worker == w for r in rows) for w in {r.worker for r in rows}), reverse=True)
    return {"workers": workers, "wall_s": round(wall, 2), "search_s": round(searching, 2), "per_worker": per}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--budget", type=int, default=120)
    p.add_argument("--delay", type=float, default=0.1)
    p.add_argument("--postgres", default=None, help="a database URL, or 'auto' for a private server")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.worker:
        return worker(a.worker, a.budget, a.delay)
    server = None
    backends = {}
    folder = Path(tempfile.mkdtemp(prefix="bench-workers-"))
    backends["sqlite"] = lambda n: f"sqlite:///{folder / f'w{n}.db'}"
    if a.postgres == "auto":
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
        from pg_server import PostgresServer

        server = PostgresServer()
        backends["postgresql"] = lambda n: server.new_database(f"bench_w{n}")
    elif a.postgres:
        backends["postgresql"] = lambda n: a.postgres
    results = []
    try:
        for backend, url in backends.items():
            for n in (1, 4):
                r = {"backend": backend, "budget": a.budget, "delay_s": a.delay, **run(url(n), n, a.budget, a.delay)}
                print(json.dumps(r), flush=True)
                results.append(r)
    finally:
        if server is not None:
            server.stop()
    for backend in backends:
        one, four = (next(r for r in results if r["backend"] == backend and r["workers"] == n) for n in (1, 4))
        print(f"{backend}: {a.budget} evaluations of {a.delay} s; wall (start-up included) 1 worker "
              f"{one['wall_s']:.1f} s, 4 workers {four['wall_s']:.1f} s ({one['wall_s'] / four['wall_s']:.2f}x); "
              f"searching {one['search_s']:.1f} s vs {four['search_s']:.1f} s "
              f"({one['search_s'] / four['search_s']:.2f}x)")


if __name__ == "__main__":
    main()
