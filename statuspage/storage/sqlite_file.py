"""The SQLite engine's own file tooling: connecting (WAL, busy timeout), opening a file as it is,
integrity and journal mode.

Named engine-specific pieces (issue 13): backup/restore (SQLite's online
backup API), `doctor`'s file checks and ingest's checkpoint tuning only make
sense for a SQLite file, so they stay here on sqlite3 and sqlite-utils instead
of going through the engine-neutral `sql` seam.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlite_utils

from statuspage.storage.locations import is_postgres_url, redacted
from statuspage.storage.schema_errors import EngineNotReady

BUSY_TIMEOUT_MS = 10_000


def connect(path: Path | str) -> sqlite_utils.Database:
    """Open the database file (creating its folder), tuned for one writer and many readers.

    Raises EngineNotReady for a `postgresql://` URL: the caller must open it
    with `sql.open_store` (the storage functions it calls take `sql.Store`).
    """
    if is_postgres_url(path):
        raise EngineNotReady(
            f"database {redacted(str(path))}: this part of upwatch still runs on SQLite only; "
            "the PostgreSQL engine runs `migrate`, `doctor` and `copy-database` (docs/storage.md)"
        )
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    # isolation_level=None: sqlite-utils' atomic() issues BEGIN/COMMIT itself.
    # check_same_thread=False: a connection is used by one thread at a time,
    # but gunicorn's thread pool may not be the thread that opened it.
    conn = sqlite3.connect(
        str(path), isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000
    )
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA journal_mode = WAL")
    # NORMAL is durable across application crashes in WAL mode; only an OS
    # crash can lose the last transactions (sqlite.org/pragma.html#pragma_synchronous).
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    return sqlite_utils.Database(conn)


def open_file(path: Path, *, read_only: bool = False) -> sqlite3.Connection:
    """An autocommit connection to an existing file (never creates one); raises sqlite3.Error."""
    uri = f"file:{path}?mode={'ro' if read_only else 'rw'}"
    conn = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    return conn


def open_existing(path: Path) -> sqlite_utils.Database | None:
    """The database at `path` when it exists and is readable SQLite; None otherwise (nothing created)."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=rw", uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.Error:
        return None
    return sqlite_utils.Database(conn)


def integrity_problems(conn: sqlite3.Connection) -> list[str]:
    """`PRAGMA integrity_check`'s answer: ["ok"] for an intact file. Raises sqlite3.DatabaseError."""
    return [str(row[0]) for row in conn.execute("PRAGMA integrity_check").fetchall()]


def journal_mode(conn: sqlite3.Connection) -> str:
    return str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower()


def make_self_contained(conn: sqlite3.Connection) -> None:
    """Switch a copy to a rollback journal: one file, no -wal beside it."""
    conn.execute("PRAGMA journal_mode = DELETE")


def set_autocheckpoint(conn: sqlite3.Connection, pages: int) -> None:
    """Checkpoint the WAL back into the file every `pages` pages instead of SQLite's 1000."""
    conn.execute(f"PRAGMA wal_autocheckpoint = {int(pages)}")


def results_count(conn: sqlite3.Connection) -> int:
    """Stored results in a file, 0 when it has no results table yet."""
    if "results" not in sqlite_utils.Database(conn).table_names():
        return 0
    return int(conn.execute("SELECT count(*) FROM results").fetchone()[0])
