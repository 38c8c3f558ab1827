"""Operator accounts, their server-side sessions and login failures: all the SQL.

Passwords arrive here already hashed (argon2, `statuspage.admin.accounts`);
session tokens arrive as their SHA-256. Nothing secret is stored in clear
except the TOTP seed, which the server must read back to verify codes.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from shared.timeutil import from_iso, to_iso


class UserExists(Exception):
    """An operator with that name exists already."""


@dataclass(frozen=True)
class User:
    id: int
    name: str
    password_hash: str
    totp_secret: str | None
    created_at: datetime
    password_changed_at: datetime
    disabled_at: datetime | None


@dataclass(frozen=True)
class Session:
    id: int
    user_id: int
    csrf_token: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    client_address: str
    user_agent: str


def _rows(db: Database, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    cursor = db.execute(sql, params)
    columns = [c[0] for c in cursor.description]
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def _time(value: Any) -> datetime | None:
    return from_iso(str(value)) if value else None


def _user(row: dict[str, Any]) -> User:
    return User(
        id=int(row["id"]),
        name=str(row["name"]),
        password_hash=str(row["password_hash"]),
        totp_secret=row["totp_secret"],
        created_at=from_iso(row["created_at"]),
        password_changed_at=from_iso(row["password_changed_at"]),
        disabled_at=_time(row["disabled_at"]),
    )


def insert_user(db: Database, name: str, password_hash: str, totp_secret: str | None, now: datetime) -> User:
    """Store a new operator; raises UserExists."""
    try:
        cursor = db.execute(
            "INSERT INTO users (name, password_hash, totp_secret, created_at, password_changed_at)"
            " VALUES (?, ?, ?, ?, ?)",
            [name, password_hash, totp_secret, to_iso(now), to_iso(now)],
        )
    except sqlite3.IntegrityError:
        raise UserExists(name) from None
    user = get_user(db, int(cursor.lastrowid or 0))
    assert user is not None
    return user


def get_user(db: Database, user_id: int) -> User | None:
    rows = _rows(db, "SELECT * FROM users WHERE id = ?", [user_id])
    return _user(rows[0]) if rows else None


def find_user(db: Database, name: str) -> User | None:
    rows = _rows(db, "SELECT * FROM users WHERE name = ?", [name])
    return _user(rows[0]) if rows else None


def list_users(db: Database) -> list[User]:
    return [_user(row) for row in _rows(db, "SELECT * FROM users ORDER BY name", [])]


def set_password_hash(db: Database, user_id: int, password_hash: str, now: datetime) -> None:
    db.execute(
        "UPDATE users SET password_hash = ?, password_changed_at = ? WHERE id = ?",
        [password_hash, to_iso(now), user_id],
    )


def set_totp_secret(db: Database, user_id: int, secret: str | None) -> None:
    db.execute("UPDATE users SET totp_secret = ?, totp_last_step = NULL WHERE id = ?", [secret, user_id])


def claim_totp_step(db: Database, user_id: int, step: int) -> bool:
    """Record that a code of time step `step` was used; False if it (or a later one) was used already.

    A conditional UPDATE, so two simultaneous sign-ins with one code cannot both win.
    """
    cursor = db.execute(
        "UPDATE users SET totp_last_step = ? WHERE id = ? AND (totp_last_step IS NULL OR totp_last_step < ?)",
        [step, user_id, step],
    )
    return cursor.rowcount == 1


def set_disabled(db: Database, user_id: int, now: datetime | None) -> None:
    db.execute("UPDATE users SET disabled_at = ? WHERE id = ?", [to_iso(now) if now else None, user_id])


# -- sessions --------------------------------------------------------------------------------------


def _session(row: dict[str, Any]) -> Session:
    return Session(
        id=int(row["id"]),
        user_id=int(row["user_id"]),
        csrf_token=str(row["csrf_token"]),
        created_at=from_iso(row["created_at"]),
        last_seen_at=from_iso(row["last_seen_at"]),
        expires_at=from_iso(row["expires_at"]),
        revoked_at=_time(row["revoked_at"]),
        client_address=str(row["client_address"]),
        user_agent=str(row["user_agent"]),
    )


def insert_session(
    db: Database,
    token_hash: str,
    user_id: int,
    csrf_token: str,
    now: datetime,
    expires_at: datetime,
    client_address: str,
    user_agent: str,
) -> int:
    cursor = db.execute(
        "INSERT INTO admin_sessions (token_hash, user_id, csrf_token, created_at, last_seen_at, expires_at,"
        " client_address, user_agent) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            token_hash,
            user_id,
            csrf_token,
            to_iso(now),
            to_iso(now),
            to_iso(expires_at),
            client_address,
            user_agent[:300],
        ],
    )
    return int(cursor.lastrowid or 0)


def find_session(db: Database, token_hash: str) -> Session | None:
    """The live (not revoked) session with this token hash, expired or not."""
    rows = _rows(db, "SELECT * FROM admin_sessions WHERE token_hash = ? AND revoked_at IS NULL", [token_hash])
    return _session(rows[0]) if rows else None


def touch_session(db: Database, session_id: int, now: datetime) -> None:
    db.execute("UPDATE admin_sessions SET last_seen_at = ? WHERE id = ?", [to_iso(now), session_id])


def revoke_session(db: Database, session_id: int, now: datetime) -> bool:
    cursor = db.execute(
        "UPDATE admin_sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
        [to_iso(now), session_id],
    )
    return cursor.rowcount > 0


def revoke_sessions_of(db: Database, user_id: int, now: datetime, keep_session_id: int | None = None) -> int:
    """Revoke every live session of the user except `keep_session_id`; return how many."""
    cursor = db.execute(
        "UPDATE admin_sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL AND id != ?",
        [to_iso(now), user_id, keep_session_id or 0],
    )
    return int(cursor.rowcount)


def live_sessions_of(db: Database, user_id: int, now: datetime) -> list[Session]:
    rows = _rows(
        db,
        "SELECT * FROM admin_sessions WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ?"
        " ORDER BY last_seen_at DESC",
        [user_id, to_iso(now)],
    )
    return [_session(row) for row in rows]


# -- login failures --------------------------------------------------------------------------------


def record_login_failure(db: Database, account: str, client_address: str, now: datetime) -> None:
    db.execute(
        "INSERT INTO login_failures (account, client_address, at) VALUES (?, ?, ?)",
        [account[:200], client_address[:100], to_iso(now)],
    )


def count_failures(
    db: Database, since: datetime, *, account: str | None = None, address: str | None = None
) -> int:
    """Failures since `since` for the account or the client address."""
    if account is not None:
        row = db.execute(
            "SELECT count(*) FROM login_failures WHERE account = ? AND at > ?", [account[:200], to_iso(since)]
        ).fetchone()
    else:
        row = db.execute(
            "SELECT count(*) FROM login_failures WHERE client_address = ? AND at > ?",
            [(address or "")[:100], to_iso(since)],
        ).fetchone()
    return int(row[0])


def clear_failures(db: Database, account: str) -> None:
    """A successful login forgets the account's failures (not the address's)."""
    db.execute("DELETE FROM login_failures WHERE account = ?", [account[:200]])


def prune_failures(db: Database, before: datetime) -> int:
    cursor = db.execute("DELETE FROM login_failures WHERE at < ?", [to_iso(before)])
    return int(cursor.rowcount)
