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
        self._app: Any = None
        self._app_url: str | None = None
        self._app_reset = ""

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
        for connection in (self._admin, self._app):
            if connection is not None:
                connection.close()
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

    def app_database(self) -> str:
        """The run's one migrated database for the app-level suites, emptied for this test.

        Made and migrated on the first call; every call then puts it back to what a fresh
        migration leaves (`reset`). Emptying ~50 tables costs a few milliseconds where
        creating a database costs a few hundred, which is what keeps whole suites
        affordable on the PostgreSQL parameter.
        """
        if self._app_url is None:
            from statuspage.db import migrate
            from statuspage.storage import sql

            url = self.new_database()
            store = sql.open_store(url)
            try:
                migrate(store)
            finally:
                sql.close(store)
            self._app_url = url
            self._app_reset = self._snapshot_seed(url)
        self._app_run(self._app_reset)
        return self._app_url

    def _app_run(self, statement: str) -> None:
        import psycopg

        if self._app is None or self._app.closed:
            assert self._app_url is not None
            self._app = psycopg.connect(self._app_url, autocommit=True)
        self._app.execute(statement.encode())

    def _snapshot_seed(self, url: str) -> str:
        """Copy the rows a fresh migration leaves into schema upwatch_seed; return the reset SQL."""
        import psycopg

        with psycopg.connect(url, autocommit=True) as connection:
            tables = [
                str(row[0])
                for row in connection.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'upwatch_migrations'"
                )
            ]
            seeded = [
                t for t in tables if connection.execute(f'SELECT EXISTS (SELECT 1 FROM "{t}")').fetchone()[0]
            ]  # type: ignore[index]
            connection.execute("CREATE SCHEMA upwatch_seed")
            for table in seeded:
                connection.execute(
                    f'CREATE TABLE upwatch_seed."{table}" AS SELECT * FROM public."{table}"'.encode()
                )
        listed = ", ".join(f"'{t}'" for t in tables)
        restore = "".join(f'INSERT INTO public."{t}" SELECT * FROM upwatch_seed."{t}"; ' for t in seeded)
        # Connections left in a transaction first (a failed test's; idle pooled ones stay
        # usable, e.g. ingest's per-thread connection), then every
        # table emptied without its foreign-key triggers, the seed rows back, identities restarted.
        return f"""
SELECT pg_terminate_backend(pid) FROM pg_stat_activity
 WHERE datname = current_database() AND pid <> pg_backend_pid() AND state <> 'idle';
DO $reset$
DECLARE t text; s text; has boolean;
BEGIN
  SET LOCAL session_replication_role = replica;
  FOREACH t IN ARRAY ARRAY[{listed}]::text[] LOOP
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM public.%I)', t) INTO has;
    IF has THEN EXECUTE format('DELETE FROM public.%I', t); END IF;
  END LOOP;
  {restore}
  FOR s IN SELECT format('%I.%I', schemaname, sequencename) FROM pg_sequences
            WHERE schemaname = 'public' AND last_value IS NOT NULL LOOP
    PERFORM setval(s, 1, false);
  END LOOP;
END
$reset$;
"""

    def release_app_database(self) -> None:
        """After a test: close this process's pooled connections to the app database."""
        from statuspage.storage import postgres

        if self._app_url is not None:
            postgres.dispose_url(self._app_url)

    def drop_database(self, url: str) -> None:
        """Drop a test's database (its pooled connections closed first); quietly a no-op if gone."""
        from statuspage.storage import postgres

        postgres.dispose_url(url)
        self._admin_run(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]} WITH (FORCE)")
