"""The agent's durable on-disk queue of results (SQLite, WAL): nothing is sent before it is here.

Contract:
- `put(result)` commits the result before it returns, so a result the
  scheduler produced survives an agent restart or `kill -9` (WAL with
  synchronous=NORMAL is durable across process crashes; only an OS crash can
  lose the last commits, sqlite.org/pragma.html#pragma_synchronous).
- `batch(n)` returns the oldest pending results, in the order they were put.
- `delete(ids)` removes what the collector acknowledged; nothing else removes
  a pending result except the size cap and `set_aside`.
- The size cap (`max_bytes`, the sum of the stored result documents) drops the
  oldest results first and adds them to `dropped_total`, a counter that only
  grows and survives restarts; the reporter sends it with every report, so the
  collector learns how many results never reached it (a cumulative counter is
  idempotent: a replayed report cannot count a drop twice).
- `set_aside(id, reason)` moves a result the collector refused permanently
  into the `set_aside` table (kept, bounded, for an operator to look at) so
  it never blocks later results.
- With `ledger=True` every result id put is also recorded in `ledger`, in the
  same transaction, and never deleted: an audit trail of what this agent
  produced (the fault-tolerance test compares it with what the collector stored).

One process owns a spool file at a time (an exclusive `flock` on `<path>.lock`,
released by the kernel even on `kill -9`). The calls are synchronous: a WAL
commit without fsync takes tens of microseconds, cheaper than a thread hop.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from shared.schema import Result

DEFAULT_MAX_BYTES = 256 * 1024 * 1024
MAX_SET_ASIDE = 10_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,   -- put order; never reused, so "oldest" is well defined
    id TEXT NOT NULL UNIQUE,
    put_at REAL NOT NULL,                    -- unix time the agent produced it
    body TEXT NOT NULL                       -- the Result as wire JSON
);
CREATE TABLE IF NOT EXISTS set_aside (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL,
    set_aside_at REAL NOT NULL,
    reason TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS ledger (id TEXT PRIMARY KEY, put_at REAL NOT NULL);
"""


class SpoolLocked(Exception):
    """Another process already owns this spool file."""


@dataclass(frozen=True)
class Spooled:
    """A pending result as stored: its id and its wire JSON."""

    id: str
    body: str


class Spool:
    """A bounded, durable FIFO of results in one SQLite file."""

    def __init__(self, path: Path | str, *, max_bytes: int = DEFAULT_MAX_BYTES, ledger: bool = False):
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.ledger = ledger
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock_fd = _lock(self.path.with_name(self.path.name + ".lock"))
        self._conn = sqlite3.connect(str(self.path), isolation_level=None, timeout=10)
        self._conn.execute("PRAGMA journal_mode = WAL")
        self._conn.execute("PRAGMA synchronous = NORMAL")
        self._conn.executescript(_SCHEMA)
        # The running byte total is recomputed once at open (self-healing), then kept in memory.
        row = self._conn.execute("SELECT count(*), total(length(body)) FROM results").fetchone()
        self._count = int(row[0])
        self._bytes = int(row[1])

    def close(self) -> None:
        self._conn.close()
        os.close(self._lock_fd)

    @property
    def pending(self) -> int:
        """How many results wait to be acknowledged."""
        return self._count

    @property
    def pending_bytes(self) -> int:
        return self._bytes

    def put(self, result: Result) -> int:
        """Store one result durably; return how many old results the cap dropped to make room."""
        body = result.model_dump_json()
        now = time.time()
        with self._transaction():
            cursor = self._conn.execute(
                "INSERT OR IGNORE INTO results (id, put_at, body) VALUES (?, ?, ?)",
                (str(result.id), now, body),
            )
            if cursor.rowcount:  # the same result put twice is queued once
                self._count += 1
                self._bytes += len(body)
            if self.ledger:
                self._conn.execute(
                    "INSERT OR IGNORE INTO ledger (id, put_at) VALUES (?, ?)", (str(result.id), now)
                )
            dropped = self._enforce_cap()
        return dropped

    def batch(self, limit: int) -> list[Spooled]:
        """The oldest `limit` pending results, oldest first."""
        rows = self._conn.execute("SELECT id, body FROM results ORDER BY seq LIMIT ?", (limit,)).fetchall()
        return [Spooled(row[0], row[1]) for row in rows]

    def oldest_put_at(self) -> float | None:
        """Unix time of the oldest pending result (None when empty)."""
        row = self._conn.execute("SELECT put_at FROM results ORDER BY seq LIMIT 1").fetchone()
        return float(row[0]) if row else None

    def delete(self, ids: list[str]) -> int:
        """Remove acknowledged results; ids not pending are ignored. Returns how many were removed."""
        if not ids:
            return 0
        removed = 0
        with self._transaction():
            for chunk in _chunks(ids, 500):
                marks = ",".join("?" * len(chunk))
                row = self._conn.execute(
                    f"SELECT count(*), total(length(body)) FROM results WHERE id IN ({marks})",  # noqa: S608
                    chunk,
                ).fetchone()
                self._conn.execute(f"DELETE FROM results WHERE id IN ({marks})", chunk)  # noqa: S608
                removed += int(row[0])
                self._bytes -= int(row[1])
            self._count -= removed
        return removed

    def set_aside(self, refused: dict[str, str]) -> int:
        """Move refused results (id -> reason) out of the queue into `set_aside`. Returns how many."""
        moved = 0
        now = time.time()
        with self._transaction():
            for result_id, reason in refused.items():
                row = self._conn.execute("SELECT body FROM results WHERE id = ?", (result_id,)).fetchone()
                if row is None:
                    continue
                self._conn.execute(
                    "INSERT INTO set_aside (id, set_aside_at, reason, body) VALUES (?, ?, ?, ?)",
                    (result_id, now, reason[:1000], row[0]),
                )
                self._conn.execute("DELETE FROM results WHERE id = ?", (result_id,))
                self._count -= 1
                self._bytes -= len(row[0])
                moved += 1
            # The set-aside pile is for inspection, not an archive: keep the newest only.
            self._conn.execute(
                "DELETE FROM set_aside WHERE seq <= (SELECT max(seq) FROM set_aside) - ?", (MAX_SET_ASIDE,)
            )
        return moved

    def set_aside_reasons(self) -> list[tuple[str, str]]:
        """(result id, reason) of every result set aside, oldest first."""
        return [(r[0], r[1]) for r in self._conn.execute("SELECT id, reason FROM set_aside ORDER BY seq")]

    @property
    def dropped_total(self) -> int:
        """Results dropped by the size cap since this spool file was created."""
        row = self._conn.execute("SELECT value FROM counters WHERE name = 'dropped'").fetchone()
        return int(row[0]) if row else 0

    def ledger_ids(self) -> list[str]:
        """Every result id ever put (only with ledger=True)."""
        return [row[0] for row in self._conn.execute("SELECT id FROM ledger ORDER BY put_at")]

    def _enforce_cap(self) -> int:
        """Drop the oldest results until the total fits `max_bytes` (always keep the newest one)."""
        if self._bytes <= self.max_bytes or self._count <= 1:
            return 0
        excess = self._bytes - self.max_bytes
        dropped = freed = 0
        last_seq = None
        cursor = self._conn.execute("SELECT seq, length(body) FROM results ORDER BY seq")
        for seq, size in cursor:
            if freed >= excess or dropped >= self._count - 1:
                break
            freed += int(size)
            dropped += 1
            last_seq = seq
        cursor.close()
        if last_seq is None:
            return 0
        self._conn.execute("DELETE FROM results WHERE seq <= ?", (last_seq,))
        self._conn.execute(
            "INSERT INTO counters (name, value) VALUES ('dropped', ?)"
            " ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
            (dropped,),
        )
        self._count -= dropped
        self._bytes -= freed
        return dropped

    def _transaction(self) -> _Transaction:
        return _Transaction(self)


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT; on error, roll back and re-read the counters from disk."""

    def __init__(self, spool: Spool):
        self._spool = spool

    def __enter__(self) -> None:
        self._spool._conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, _value: object, _tb: object) -> None:
        conn = self._spool._conn
        if kind is None:
            conn.execute("COMMIT")
            return
        conn.execute("ROLLBACK")
        row = conn.execute("SELECT count(*), total(length(body)) FROM results").fetchone()
        self._spool._count, self._spool._bytes = int(row[0]), int(row[1])


def _lock(path: Path) -> int:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise SpoolLocked(f"spool {path.with_suffix('')} is in use by another agent process") from None
    return fd


def _chunks(items: list[str], size: int) -> list[list[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]
