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
from typing import Any

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
        self._admin: Any = None
        self._template: str | None = None

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
        if self._admin is not None:
            self._admin.close()
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

    def _admin_run(self, statement: str) -> None:
        # One long-lived autocommit connection to `postgres` for CREATE/DROP DATABASE:
        # a psql process per test costs more than the statement.
        import psycopg

        if self._admin is None or self._admin.closed:
            self._admin = psycopg.connect(self.url(), autocommit=True)
        self._admin.execute(statement.encode())

    def new_database(self, template: str = "template0") -> str:
        """Create a database (empty, or a copy of `template`); return its URL."""
        name = f"t{os.getpid()}_{next(self._names)}_{int(time.time() * 1000) % 100000}"
        # FILE_COPY: a plain copy of the template's files, much faster than
        # PostgreSQL 15's default WAL_LOG strategy for a small database.
        self._admin_run(f"CREATE DATABASE {name} TEMPLATE {template} STRATEGY FILE_COPY")
        return self.url(name)

    def migrated_database(self) -> str:
        """A fresh database with every migration applied: a copy of one migrated template.

        The template is migrated once per run (the first call); each copy costs a file
        copy instead of running every migration again, which is what keeps whole
        suites affordable on the PostgreSQL parameter.
        """
        if self._template is None:
            from statuspage.db import migrate
            from statuspage.storage import postgres, sql

            url = self.new_database()
            store = sql.open_store(url)
            try:
                migrate(store)
            finally:
                sql.close(store)
            # CREATE DATABASE ... TEMPLATE needs the template without connections.
            postgres.dispose_url(url)
            self._template = url.rsplit("/", 1)[1]
        return self.new_database(self._template)

    def drop_database(self, url: str) -> None:
        """Drop a test's database (its pooled connections closed first); quietly a no-op if gone."""
        from statuspage.storage import postgres

        postgres.dispose_url(url)
        self._admin_run(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]} WITH (FORCE)")
