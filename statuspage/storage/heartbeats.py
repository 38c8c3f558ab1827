"""Heartbeat keys, pings and deadline markers: the facts the ping endpoints and the worker record.

Ping keys are random (`secrets.token_urlsafe`), stored, and shown to operators;
knowing a check's id never reveals its key.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlite_utils import Database

from shared.timeutil import from_iso, to_iso
from statuspage.storage import sql

KEY_BYTES = 16


@dataclass(frozen=True)
class Heartbeat:
    """The stored side of one heartbeat check."""

    check_id: str
    ping_key: str
    created_at: datetime
    last_ping_at: datetime | None
    last_success_at: datetime | None
    missed_deadline: datetime | None
    missed_noted_at: datetime | None


@dataclass(frozen=True)
class Ping:
    """One request to a ping URL, as received."""

    kind: str  # success | start | fail | log
    at: datetime
    method: str
    exit_status: int | None = None
    rid: str | None = None
    remote_addr: str | None = None
    user_agent: str | None = None
    body: str | None = None
    body_truncated: bool = False


def new_key() -> str:
    return secrets.token_urlsafe(KEY_BYTES)


def ensure_keys(db: Database, check_ids: Iterable[str], now: datetime) -> None:
    """Give every listed heartbeat check a key (once). Call inside a transaction or alone."""
    for check_id in check_ids:
        db.execute(
            "INSERT OR IGNORE INTO heartbeats (check_id, ping_key, created_at) VALUES (?, ?, ?)",
            [check_id, new_key(), to_iso(now)],
        )


def rotate_key(db: Database, check_id: str) -> str | None:
    """Replace a check's key; the old one stops working at once. None when the check has no key."""
    key = new_key()
    cursor = db.execute("UPDATE heartbeats SET ping_key = ? WHERE check_id = ?", [key, check_id])
    return key if cursor.rowcount else None


def ensure_ping_key(db: Database, now: datetime) -> str:
    """The installation's ping key for slug URLs, made (randomly) on first use."""
    sql.run(
        db,
        "INSERT INTO heartbeat_ping_key (id, ping_key, created_at) VALUES (1, :key, :at)"
        " ON CONFLICT (id) DO NOTHING",
        {"key": new_key(), "at": to_iso(now)},
    )
    return str(sql.scalar(db, "SELECT ping_key FROM heartbeat_ping_key WHERE id = 1"))


def ping_key(db: Database) -> str | None:
    """The installation's ping key, or None before it was made."""
    value = sql.scalar(db, "SELECT ping_key FROM heartbeat_ping_key WHERE id = 1")
    return None if value is None else str(value)


def rotate_ping_key(db: Database, now: datetime) -> str:
    """Replace the installation's ping key: every slug URL with the old one stops working."""
    key = new_key()
    sql.run(
        db,
        "INSERT INTO heartbeat_ping_key (id, ping_key, created_at) VALUES (1, :key, :at)"
        " ON CONFLICT (id) DO UPDATE SET ping_key = excluded.ping_key, created_at = excluded.created_at",
        {"key": key, "at": to_iso(now)},
    )
    return key


def _heartbeat(row: tuple[object, ...]) -> Heartbeat:
    def moment(value: object) -> datetime | None:
        return from_iso(str(value)) if value else None

    created = moment(row[2])
    assert created is not None
    return Heartbeat(
        check_id=str(row[0]),
        ping_key=str(row[1]),
        created_at=created,
        last_ping_at=moment(row[3]),
        last_success_at=moment(row[4]),
        missed_deadline=moment(row[5]),
        missed_noted_at=moment(row[6]),
    )


_COLUMNS = "check_id, ping_key, created_at, last_ping_at, last_success_at, missed_deadline, missed_noted_at"


def by_key(db: Database, key: str) -> Heartbeat | None:
    row = db.execute(f"SELECT {_COLUMNS} FROM heartbeats WHERE ping_key = ?", [key]).fetchone()  # noqa: S608
    return _heartbeat(row) if row else None


def load_heartbeats(db: Database) -> dict[str, Heartbeat]:
    rows = db.execute(f"SELECT {_COLUMNS} FROM heartbeats").fetchall()  # noqa: S608
    return {heartbeat.check_id: heartbeat for heartbeat in map(_heartbeat, rows)}


def oldest_open_start(db: Database, check_id: str, since: datetime | None) -> datetime | None:
    """The earliest start after the last success that no end has paired with yet."""
    row = db.execute(
        "SELECT min(at) FROM heartbeat_pings WHERE check_id = ? AND kind = 'start' AND ended_at IS NULL"
        " AND at > ?",
        [check_id, to_iso(since) if since else ""],
    ).fetchone()
    return from_iso(row[0]) if row and row[0] else None


def close_start(db: Database, check_id: str, rid: str | None, at: datetime) -> datetime | None:
    """Pair an end with the latest open start of the same rid; return that start's time."""
    row = db.execute(
        "SELECT id, at FROM heartbeat_pings WHERE check_id = ? AND kind = 'start' AND ended_at IS NULL"
        " AND rid IS ? ORDER BY id DESC LIMIT 1",
        [check_id, rid],
    ).fetchone()
    if not row:
        return None
    db.execute("UPDATE heartbeat_pings SET ended_at = ? WHERE id = ?", [to_iso(at), row[0]])
    return from_iso(row[1])


def insert_ping(db: Database, check_id: str, ping: Ping, duration_s: float | None) -> int:
    """Store a ping and move the check's last-ping markers. Call inside a transaction."""
    cursor = db.execute(
        "INSERT INTO heartbeat_pings (check_id, at, kind, exit_status, rid, duration_s, method,"
        " remote_addr, user_agent, body, body_truncated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            check_id,
            to_iso(ping.at),
            ping.kind,
            ping.exit_status,
            ping.rid,
            duration_s,
            ping.method,
            ping.remote_addr,
            ping.user_agent,
            ping.body,
            int(ping.body_truncated),
        ],
    )
    db.execute("UPDATE heartbeats SET last_ping_at = ? WHERE check_id = ?", [to_iso(ping.at), check_id])
    if ping.kind == "success":
        db.execute(
            "UPDATE heartbeats SET last_success_at = ?, missed_deadline = NULL, missed_noted_at = NULL"
            " WHERE check_id = ?",
            [to_iso(ping.at), check_id],
        )
    return int(cursor.lastrowid or 0)


def note_miss(db: Database, check_id: str, deadline: datetime, now: datetime) -> None:
    db.execute(
        "UPDATE heartbeats SET missed_deadline = ?, missed_noted_at = ? WHERE check_id = ?",
        [to_iso(deadline), to_iso(now), check_id],
    )


def recent_pings(db: Database, check_id: str, limit: int = 50) -> list[dict[str, object]]:
    """The newest pings of a check, newest first (for operators and tests)."""
    cursor = db.execute(
        "SELECT id, at, kind, exit_status, rid, duration_s, method, remote_addr, body, body_truncated"
        " FROM heartbeat_pings WHERE check_id = ? ORDER BY id DESC LIMIT ?",
        [check_id, limit],
    )
    columns = [c[0] for c in cursor.description]
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
