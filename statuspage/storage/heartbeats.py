"""Heartbeat keys, pings and deadline markers: the facts the ping endpoints and the worker record.

Ping keys are random (`secrets.token_urlsafe`), stored, and shown to operators;
knowing a check's id never reveals its key.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from shared.timeutil import from_iso, to_iso
from statuspage.storage import sql
from statuspage.storage.sql import Store

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


def ensure_keys(db: Store, check_ids: Iterable[str], now: datetime) -> None:
    """Give every listed heartbeat check a key (once). Call inside a transaction or alone."""
    for check_id in check_ids:
        sql.run(
            db,
            "INSERT INTO heartbeats (check_id, ping_key, created_at) VALUES (:check_id, :key, :now)"
            " ON CONFLICT DO NOTHING",
            {"check_id": check_id, "key": new_key(), "now": to_iso(now)},
        )


def rotate_key(db: Store, check_id: str) -> str | None:
    """Replace a check's key; the old one stops working at once. None when the check has no key."""
    key = new_key()
    changed = sql.run(
        db,
        "UPDATE heartbeats SET ping_key = :key WHERE check_id = :check_id",
        {"key": key, "check_id": check_id},
    )
    return key if changed else None


def ensure_ping_key(db: Store, now: datetime) -> str:
    """The installation's ping key for slug URLs, made (randomly) on first use."""
    sql.run(
        db,
        "INSERT INTO heartbeat_ping_key (id, ping_key, created_at) VALUES (1, :key, :at)"
        " ON CONFLICT (id) DO NOTHING",
        {"key": new_key(), "at": to_iso(now)},
    )
    return str(sql.scalar(db, "SELECT ping_key FROM heartbeat_ping_key WHERE id = 1"))


def ping_key(db: Store) -> str | None:
    """The installation's ping key, or None before it was made."""
    value = sql.scalar(db, "SELECT ping_key FROM heartbeat_ping_key WHERE id = 1")
    return None if value is None else str(value)


def rotate_ping_key(db: Store, now: datetime) -> str:
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


def by_key(db: Store, key: str) -> Heartbeat | None:
    found = sql.tuples(db, f"SELECT {_COLUMNS} FROM heartbeats WHERE ping_key = :key", {"key": key})  # noqa: S608
    return _heartbeat(found[0]) if found else None


def load_heartbeats(db: Store) -> dict[str, Heartbeat]:
    rows = sql.tuples(db, f"SELECT {_COLUMNS} FROM heartbeats")  # noqa: S608
    return {heartbeat.check_id: heartbeat for heartbeat in map(_heartbeat, rows)}


def oldest_open_start(db: Store, check_id: str, since: datetime | None) -> datetime | None:
    """The earliest start after the last success that no end has paired with yet."""
    found = sql.scalar(
        db,
        "SELECT min(at) FROM heartbeat_pings WHERE check_id = :check_id AND kind = 'start'"
        " AND ended_at IS NULL AND at > :since",
        {"check_id": check_id, "since": to_iso(since) if since else ""},
    )
    return from_iso(found) if found else None


def close_start(db: Store, check_id: str, rid: str | None, at: datetime) -> datetime | None:
    """Pair an end with the latest open start of the same rid; return that start's time."""
    same_rid = "rid IS NULL" if rid is None else "rid = :rid"  # `rid IS :rid` is SQLite only
    row = sql.one(
        db,
        "SELECT id, at FROM heartbeat_pings WHERE check_id = :check_id AND kind ="  # noqa: S608
        " 'start'"
        f" AND ended_at IS NULL AND {same_rid} ORDER BY id DESC LIMIT 1",
        {"check_id": check_id, "rid": rid},
    )
    if not row:
        return None
    sql.run(
        db, "UPDATE heartbeat_pings SET ended_at = :at WHERE id = :id", {"at": to_iso(at), "id": row["id"]}
    )
    return from_iso(row["at"])


def insert_ping(db: Store, check_id: str, ping: Ping, duration_s: float | None) -> int:
    """Store a ping and move the check's last-ping markers. Call inside a transaction."""
    ping_id = sql.insert_returning_id(
        db,
        "INSERT INTO heartbeat_pings (check_id, at, kind, exit_status, rid, duration_s, method,"
        " remote_addr, user_agent, body, body_truncated) VALUES (:check_id, :at, :kind, :exit_status,"
        " :rid, :duration_s, :method, :remote_addr, :user_agent, :body, :body_truncated) RETURNING id",
        {
            "check_id": check_id,
            "at": to_iso(ping.at),
            "kind": ping.kind,
            "exit_status": ping.exit_status,
            "rid": ping.rid,
            "duration_s": duration_s,
            "method": ping.method,
            "remote_addr": ping.remote_addr,
            "user_agent": ping.user_agent,
            "body": ping.body,
            "body_truncated": int(ping.body_truncated),
        },
    )
    marks = {"at": to_iso(ping.at), "check_id": check_id}
    sql.run(db, "UPDATE heartbeats SET last_ping_at = :at WHERE check_id = :check_id", marks)
    if ping.kind == "success":
        sql.run(
            db,
            "UPDATE heartbeats SET last_success_at = :at, missed_deadline = NULL, missed_noted_at = NULL"
            " WHERE check_id = :check_id",
            marks,
        )
    return ping_id


def note_miss(db: Store, check_id: str, deadline: datetime, now: datetime) -> None:
    sql.run(
        db,
        "UPDATE heartbeats SET missed_deadline = :deadline, missed_noted_at = :now WHERE check_id ="
        " :check_id",
        {"deadline": to_iso(deadline), "now": to_iso(now), "check_id": check_id},
    )


def recent_pings(db: Store, check_id: str, limit: int = 50) -> list[dict[str, object]]:
    """The newest pings of a check, newest first (for operators and tests)."""
    return sql.rows(
        db,
        "SELECT id, at, kind, exit_status, rid, duration_s, method, remote_addr, body, body_truncated"
        " FROM heartbeat_pings WHERE check_id = :check_id ORDER BY id DESC LIMIT :limit",
        {"check_id": check_id, "limit": limit},
    )
