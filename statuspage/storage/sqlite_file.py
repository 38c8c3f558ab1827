"""The SQLite engine's own file tooling: opening a database file as it is, integrity and journal mode.

Named engine-specific pieces (issue 13): backup/restore (SQLite's online
backup API), `doctor`'s file checks and ingest's checkpoint tuning only make
sense for a SQLite file, so they stay here on sqlite3 and sqlite-utils instead
of going through the engine-neutral `sql` seam.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlite_utils

from statuspage.db import BUSY_TIMEOUT_MS


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
