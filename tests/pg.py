"""A throwaway PostgreSQL server for the tests: initdb into a temp dir, start on a
free loopback port, one fresh database per test, stop at the end. No mock.

Tests run as root and PostgreSQL refuses to run as root, so the cluster belongs
to `nobody` (subprocess `user=`). Durability is off (fsync, synchronous_commit,
full_page_writes): a crash loses a test database, nothing else. The benchmarks
in bench/ start the same server with their own `settings` (durability on).
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

RUN_AS = "nobody"
# Server settings for tests: no durability (a crash loses a throwaway database only).
TEST_SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
}


def bin_dir() -> Path | None:
    """Where Debian's PostgreSQL server binaries are (the newest version), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    postgres = shutil.which("postgres")
    return Path(postgres).parent if postgres else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PostgresServer:
    """One cluster on 127.0.0.1:`port`, superuser `upwatch`, trust authentication on loopback.

    `settings` are the server's `-c name=value` options (default TEST_SETTINGS).
    """

    def __init__(self, root: Path, settings: Mapping[str, str] | None = None):
        binaries = bin_dir()
        if binaries is None:
            raise RuntimeError("PostgreSQL is not installed (scripts/test-setup.sh installs it)")
        self.bin = binaries
        self.root = root
        self.data = root / "data"
        self.port = free_port()
        self._names = itertools.count(1)
        self.settings = dict(TEST_SETTINGS if settings is None else settings)

    def _as_owner(self, *args: str) -> subprocess.CompletedProcess[str]:
        kwargs = {"user": RUN_AS} if os.geteuid() == 0 else {}
        return subprocess.run(  # noqa: S603 - our own binaries, fixed arguments
            [str(self.bin / args[0]), *args[1:]],
            check=True,
            capture_output=True,
            text=True,
            cwd=self.root,
            **kwargs,  # type: ignore[call-overload]
        )

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, RUN_AS)
        self._as_owner(
            "initdb", "-D", str(self.data), "-U", "upwatch", "--auth=trust", "-E", "UTF8", "--no-sync"
        )
        options = " ".join(
            [
                f"-p {self.port}",
                "-c listen_addresses=127.0.0.1",
                f"-c unix_socket_directories={self.root}",
                *(f"-c {name}={value}" for name, value in self.settings.items()),
            ]
        )
        self._as_owner(
            "pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.root / "log"), "-w", "start"
        )

    def stop(self) -> None:
        try:
            self._as_owner("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        except subprocess.CalledProcessError:
            pass

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://upwatch@127.0.0.1:{self.port}/{database}"

    def psql(self, sql: str, database: str = "postgres") -> str:
        return subprocess.run(  # noqa: S603
            [str(self.bin / "psql"), "-X", "-q", "-At", "-d", self.url(database), "-c", sql],
            check=True,
            capture_output=True,
            text=True,
        ).stdout

    def new_database(self) -> str:
        """Create an empty database; return its URL."""
        name = f"t{os.getpid()}_{next(self._names)}_{int(time.time() * 1000) % 100000}"
        # FILE_COPY: a plain copy of template0's few files, much faster than
        # PostgreSQL 15's default WAL_LOG strategy for a tiny database.
        self.psql(f"CREATE DATABASE {name} TEMPLATE template0 STRATEGY FILE_COPY")
        return self.url(name)
