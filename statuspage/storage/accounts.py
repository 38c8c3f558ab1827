"""Operator accounts and their server-side sessions: all the SQL (login failures and device
cookies: `statuspage.storage.login_throttle`).

Passwords arrive here already hashed (argon2, `statuspage.admin.accounts`);
session tokens arrive as their SHA-256. Nothing secret is stored in clear
except the TOTP seed, which the server must read back to verify codes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.timeutil import from_iso, to_iso
from statuspage.storage import sql
from statuspage.storage.sql import Store


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


def _rows(db: Store, query: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    return sql.rows(db, query, params)


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


def insert_user(db: Store, name: str, password_hash: str, totp_secret: str | None, now: datetime) -> User:
    """Store a new operator; raises UserExists."""
    try:
        user_id = sql.insert_returning_id(
            db,
            "INSERT INTO users (name, password_hash, totp_secret, created_at, password_changed_at)"
            " VALUES (:name, :password_hash, :totp_secret, :created_at, :password_changed_at) RETURNING id",
            {
                "name": name,
                "password_hash": password_hash,
                "totp_secret": totp_secret,
                "created_at": to_iso(now),
                "password_changed_at": to_iso(now),
            },
        )
    except sql.IntegrityError:
        raise UserExists(name) from None
    user = get_user(db, user_id)
    assert user is not None
    return user


def get_user(db: Store, user_id: int) -> User | None:
    rows = _rows(db, "SELECT * FROM users WHERE id = :id", {"id": user_id})
    return _user(rows[0]) if rows else None


def find_user(db: Store, name: str) -> User | None:
    rows = _rows(db, "SELECT * FROM users WHERE name = :name", {"name": name})
    return _user(rows[0]) if rows else None


def list_users(db: Store) -> list[User]:
    return [_user(row) for row in _rows(db, "SELECT * FROM users ORDER BY name", {})]


def set_password_hash(db: Store, user_id: int, password_hash: str, now: datetime) -> None:
    sql.run(
        db,
        "UPDATE users SET password_hash = :password_hash, password_changed_at = :password_changed_at WHERE"
        " id = :id",
        {"password_hash": password_hash, "password_changed_at": to_iso(now), "id": user_id},
    )


def set_totp_secret(db: Store, user_id: int, secret: str | None) -> None:
    sql.run(
        db,
        "UPDATE users SET totp_secret = :totp_secret, totp_last_step = NULL WHERE id = :id",
        {"totp_secret": secret, "id": user_id},
    )


def claim_totp_step(db: Store, user_id: int, step: int) -> bool:
    """Record that a code of time step `step` was used; False if it (or a later one) was used already.

    A conditional UPDATE, so two simultaneous sign-ins with one code cannot both win.
    """
    changed = sql.run(
        db,
        "UPDATE users SET totp_last_step = :totp_last_step WHERE id = :id AND (totp_last_step IS NULL OR"
        " totp_last_step < :totp_last_step_before)",
        {"totp_last_step": step, "id": user_id, "totp_last_step_before": step},
    )
    return changed == 1


def set_disabled(db: Store, user_id: int, now: datetime | None) -> None:
    sql.run(
        db,
        "UPDATE users SET disabled_at = :disabled_at WHERE id = :id",
        {"disabled_at": to_iso(now) if now else None, "id": user_id},
    )


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
    db: Store,
    token_hash: str,
    user_id: int,
    csrf_token: str,
    now: datetime,
    expires_at: datetime,
    client_address: str,
    user_agent: str,
) -> int:
    return sql.insert_returning_id(
        db,
        "INSERT INTO admin_sessions (token_hash, user_id, csrf_token, created_at, last_seen_at, expires_at,"
        " client_address, user_agent) VALUES (:token_hash, :user_id, :csrf_token, :created_at, :last_seen_at,"
        " :expires_at, :client_address, :user_agent) RETURNING id",
        {
            "token_hash": token_hash,
            "user_id": user_id,
            "csrf_token": csrf_token,
            "created_at": to_iso(now),
            "last_seen_at": to_iso(now),
            "expires_at": to_iso(expires_at),
            "client_address": client_address,
            "user_agent": user_agent[:300],
        },
    )


def find_session(db: Store, token_hash: str) -> Session | None:
    """The live (not revoked) session with this token hash, expired or not."""
    rows = _rows(
        db,
        "SELECT * FROM admin_sessions WHERE token_hash = :token_hash AND revoked_at IS NULL",
        {"token_hash": token_hash},
    )
    return _session(rows[0]) if rows else None


def touch_session(db: Store, session_id: int, now: datetime) -> None:
    sql.run(
        db,
        "UPDATE admin_sessions SET last_seen_at = :last_seen_at WHERE id = :id",
        {"last_seen_at": to_iso(now), "id": session_id},
    )


def revoke_session(db: Store, session_id: int, now: datetime) -> bool:
    changed = sql.run(
        db,
        "UPDATE admin_sessions SET revoked_at = :revoked_at WHERE id = :id AND revoked_at IS NULL",
        {"revoked_at": to_iso(now), "id": session_id},
    )
    return changed > 0


def revoke_sessions_of(db: Store, user_id: int, now: datetime, keep_session_id: int | None = None) -> int:
    """Revoke every live session of the user except `keep_session_id`; return how many."""
    changed = sql.run(
        db,
        "UPDATE admin_sessions SET revoked_at = :revoked_at WHERE user_id = :user_id AND revoked_at IS NULL"
        " AND id != :id",
        {"revoked_at": to_iso(now), "user_id": user_id, "id": keep_session_id or 0},
    )
    return int(changed)


def live_sessions_of(db: Store, user_id: int, now: datetime) -> list[Session]:
    rows = _rows(
        db,
        "SELECT * FROM admin_sessions WHERE user_id = :user_id AND revoked_at IS NULL AND expires_at >"
        " :expires_at_after"
        " ORDER BY last_seen_at DESC",
        {"user_id": user_id, "expires_at_after": to_iso(now)},
    )
    return [_session(row) for row in rows]
