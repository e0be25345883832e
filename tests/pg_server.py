"""A private PostgreSQL server for the test session: started on first use, stopped at the end.

Debian's ``postgresql`` package puts ``initdb`` and ``pg_ctl`` in ``/usr/lib/postgresql/<version>/bin`` (not
on PATH). ``initdb`` refuses to run as root, so as root both run as the ``postgres`` user
(``runuser -u postgres --``) on a data directory under /tmp that user owns (pytest's temporary folders are
0700 and owned by root). The server listens on 127.0.0.1 on a free port, with ``fsync=off`` (a throwaway
server need not survive a power cut).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def pg_bin(name: str) -> str | None:
    """The newest installed PostgreSQL server binary ``name``, or None."""
    found = shutil.which(name)
    if found:
        return found
    for d in sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name)
                    if p.parent.name.isdigit() else 0, reverse=True):
        if (d / name).exists():
            return str(d / name)
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """``initdb`` + ``pg_ctl start`` on a fresh data directory; :meth:`stop` removes everything."""

    def __init__(self) -> None:
        initdb, self.pg_ctl = pg_bin("initdb"), pg_bin("pg_ctl")
        if not (initdb and self.pg_ctl):
            raise FileNotFoundError("PostgreSQL server binaries (initdb, pg_ctl) not installed: "
                                    "apt-get install postgresql")
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self.root = Path(tempfile.mkdtemp(prefix="hwnas-pg-", dir="/tmp"))
        self.data = self.root / "data"
        if self.as_user:
            shutil.chown(self.root, "postgres")
        self.port = free_port()
        self._run([initdb, "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync"])
        opts = (f"-c listen_addresses=127.0.0.1 -c port={self.port} -c fsync=off -c synchronous_commit=off "
                f"-c full_page_writes=off -c unix_socket_directories={self.root} -c max_connections=200")
        self._run([self.pg_ctl, "-D", str(self.data), "-o", opts, "-w", "-t", "60", "-l", str(self.root / "log"),
                   "start"])
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, cmd: list[str]) -> None:
        res = subprocess.run(self.as_user + cmd, capture_output=True, text=True)
        if res.returncode:
            log = (self.root / "log").read_text() if (self.root / "log").exists() else ""
            raise RuntimeError(f"{' '.join(cmd)} failed ({res.returncode}): {res.stderr}{res.stdout}{log}")

    def new_database(self, name: str) -> str:
        """A fresh database on this server; its URL."""
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        subprocess.run(self.as_user + [self.pg_ctl, "-D", str(self.data), "-m", "immediate", "-w", "stop"],
                       capture_output=True)
        for _ in range(20):
            shutil.rmtree(self.root, ignore_errors=True)
            if not self.root.exists():
                break
            time.sleep(0.1)
