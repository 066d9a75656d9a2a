"""A throwaway PostgreSQL server for tests and benches: Debian's own
binaries (`initdb`, `pg_ctl`), a data directory in a temporary folder, a
free loopback port, trust authentication, no system service. Stopped and
deleted on exit.

PostgreSQL refuses to run as root, so as root the cluster belongs to the
`postgres` user that Debian's package creates (the folder is handed to it).
"""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

DB_NAME = "intervene"
DB_USER = "intervene"


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries on this machine (Debian: apt-get install postgresql)."""


def pg_bin() -> Optional[Path]:
    """The folder with initdb and pg_ctl: PG_BIN, else the newest Debian install, else PATH."""
    if os.environ.get("PG_BIN"):
        return Path(os.environ["PG_BIN"])
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ThrowawayPostgres:
    """`with ThrowawayPostgres() as pg: pg.url` -> a fresh, empty database."""

    def __init__(self, base: Optional[str] = None) -> None:
        found = pg_bin()
        if found is None:
            raise PostgresUnavailable("no PostgreSQL server binaries (initdb, pg_ctl): "
                                      "apt-get install postgresql")
        self.bin: Path = found
        self.root = Path(tempfile.mkdtemp(prefix="intervene-pg-", dir=base))
        self.data = self.root / "data"
        self.port = _free_port()
        self.url = f"postgresql://{DB_USER}@127.0.0.1:{self.port}/{DB_NAME}"
        self._as: Optional[str] = "postgres" if os.getuid() == 0 else None
        self.started = False

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [str(a) for a in args]
        if self._as:
            cmd = ["runuser", "-u", self._as, "--", *cmd]
        return subprocess.run(cmd, check=check, capture_output=True, text=True, timeout=120)

    def start(self) -> "ThrowawayPostgres":
        if self._as:
            info = pwd.getpwnam(self._as)
            os.chown(self.root, info.pw_uid, info.pw_gid)
        self.root.chmod(0o700)
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", DB_USER, "-A", "trust",
                  "-E", "UTF8", "--no-sync")
        conf = (f"listen_addresses = '127.0.0.1'\nport = {self.port}\n"
                f"unix_socket_directories = '{self.root}'\nfsync = off\nsynchronous_commit = off\n"
                f"full_page_writes = off\nmax_connections = 200\n")
        with open(self.data / "postgresql.conf", "a") as f:
            f.write(conf)
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "log"), "-w",
                  "-t", "60", "start")
        self.started = True
        self._run(str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", DB_USER, DB_NAME)
        return self

    def fresh(self, name: str) -> str:
        """A new empty database in this server; its URL."""
        self._run(str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", DB_USER, name)
        return f"postgresql://{DB_USER}@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        if self.started:
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop", check=False)
            self.started = False
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> "ThrowawayPostgres":
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def wait_until(pred: Any, timeout: float = 10.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.05)
    return bool(pred())
