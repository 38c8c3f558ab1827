"""PostgreSQL for the benchmarks: an existing server (`--database URL`) or a throwaway one.

The throwaway server is the tests' (tests/pg.PostgresServer: initdb into a temp
dir, a free loopback port, stopped at the end) with durability on, unlike the
tests: fsync and full_page_writes on, synchronous_commit off. That pairs with
the SQLite engine's WAL + `synchronous = NORMAL`: a crash never corrupts the
database, and a power loss may lose the last commits (under a second), which
the agents re-send from their spools.

A server kept across runs (to seed bench/page.py's large data set once and measure it
again with `--database URL --reuse`):

    .venv/bin/python -m bench.common.postgres start DIR   # prints the URL
    .venv/bin/python -m bench.common.postgres stop DIR

Not a benchmark itself: it lives in a folder so `make bench` (bench/*.py) does not run it.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.pg import PostgresServer, bin_dir

BENCH_SETTINGS = {
    "fsync": "on",
    "synchronous_commit": "off",
    "full_page_writes": "on",
    "shared_buffers": "512MB",
    "max_wal_size": "4GB",
    "checkpoint_timeout": "15min",
    "max_connections": "300",
}
SHOWN = ("server_version", "fsync", "synchronous_commit", "full_page_writes", "shared_buffers",
         "max_wal_size", "checkpoint_timeout", "max_connections")  # fmt: skip


def available(url: str | None) -> bool:
    """True when a server is given or one can be started here."""
    return url is not None or bin_dir() is not None


@contextmanager
def databases(url: str | None) -> Iterator[Callable[[], str]]:
    """Yield a function returning a database URL for one measurement.

    With `url` every call returns it (an existing server: the caller keeps its
    rows apart by name); without, each call creates an empty database on a
    throwaway server that is stopped and deleted on exit.
    """
    if url is not None:
        yield lambda: url
        return
    root = Path(tempfile.mkdtemp(prefix="upwatch-bench-pg-"))
    server = PostgresServer(root, BENCH_SETTINGS)
    server.start()
    try:
        yield server.new_database
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


def settings_line(url: str) -> str:
    """The server's version and durability/memory settings, read from the server (one line)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        values = {name: conn.execute(f"SHOW {name}").fetchone()[0] for name in SHOWN}  # type: ignore[index]
    version = values.pop("server_version").split()[0]
    return f"PostgreSQL {version}: " + ", ".join(f"{name}={value}" for name, value in values.items())


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("start", "stop"):
        print("usage: python -m bench.common.postgres start|stop DIR", file=sys.stderr)
        return 2
    root = Path(argv[1]).resolve()
    server = PostgresServer(root, BENCH_SETTINGS)
    if argv[0] == "stop":
        server.stop()
        return 0
    server.start()
    url = server.new_database()
    (root / "url").write_text(url + "\n")
    print(url)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
