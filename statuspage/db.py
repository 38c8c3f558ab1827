"""SQLite connections: WAL, a busy timeout, and migrations applied on open.

Each web request gets its own connection (closed at teardown); the worker
holds one for its lifetime. sqlite-utils wraps the connection so storage
modules can use `Database.atomic()` for short write transactions.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlite_utils

from statuspage.storage.migrations import MIGRATIONS

BUSY_TIMEOUT_MS = 10_000


def connect(path: Path | str) -> sqlite_utils.Database:
    """Open the database file (creating its folder), tuned for one writer and many readers."""
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


def migrate(db: sqlite_utils.Database) -> list[str]:
    """Apply pending migrations; return the names applied (each in its own transaction)."""
    pending = [migration.name for migration in MIGRATIONS.pending(db)]
    MIGRATIONS.apply(db)
    return pending


def open_and_migrate(path: Path | str) -> sqlite_utils.Database:
    db = connect(path)
    migrate(db)
    return db
