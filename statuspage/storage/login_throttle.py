"""Login failures and device cookies (OWASP "Slow Down Online Guessing Attacks with
Device Cookies"): all the SQL.

A device cookie is a random token given to a browser after it signed in to an
account; only its SHA-256 is stored, bound to the account name. Failures are
recorded with the device they came from (NULL for an untrusted client), so an
attacker's failures lock out the attacker's (account, address) and, far later,
untrusted clients of the account, but never a browser that has signed in before.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from shared.timeutil import to_iso
from statuspage.storage import sql

DEVICE_PREFIX = "uwd_"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_device(db: sql.Store, account: str, now: datetime) -> str:
    """A new device token for `account` (store its hash); return the token for the cookie."""
    token = DEVICE_PREFIX + secrets.token_urlsafe(32)
    sql.run(
        db,
        "INSERT INTO login_devices (account, token_hash, created_at, last_used_at)"
        " VALUES (:account, :hash, :now, :now)",
        {"account": account[:200], "hash": _digest(token), "now": to_iso(now)},
    )
    return token


def find_device(db: sql.Store, account: str, token: str) -> int | None:
    """The id of the device `token` names for `account`, or None (unknown, or another account's)."""
    if not token.startswith(DEVICE_PREFIX) or len(token) > 200:
        return None
    value = sql.scalar(
        db,
        "SELECT id FROM login_devices WHERE token_hash = :hash AND account = :account",
        {"hash": _digest(token), "account": account[:200]},
    )
    return int(value) if value is not None else None


def touch_device(db: sql.Store, device_id: int, now: datetime) -> None:
    sql.run(
        db,
        "UPDATE login_devices SET last_used_at = :now WHERE id = :id",
        {"now": to_iso(now), "id": device_id},
    )


def record_failure(
    db: sql.Store, account: str, client_address: str, device_id: int | None, now: datetime
) -> None:
    sql.run(
        db,
        "INSERT INTO login_failures (account, client_address, device_id, at)"
        " VALUES (:account, :address, :device, :at)",
        {"account": account[:200], "address": client_address[:100], "device": device_id, "at": to_iso(now)},
    )


def device_failures(db: sql.Store, device_id: int, since: datetime) -> int:
    """Failures from this device cookie since `since`."""
    return int(
        sql.scalar(
            db,
            "SELECT count(*) FROM login_failures WHERE device_id = :device AND at > :since",
            {"device": device_id, "since": to_iso(since)},
        )
    )


def untrusted_failures(
    db: sql.Store, since: datetime, *, account: str | None = None, address: str | None = None
) -> int:
    """Failures from clients without a device cookie since `since`, for the account, the
    address, or the (account, address) pair when both are given."""
    clauses = ["device_id IS NULL", "at > :since"]
    params: dict[str, object] = {"since": to_iso(since)}
    if account is not None:
        clauses.append("account = :account")
        params["account"] = account[:200]
    if address is not None:
        clauses.append("client_address = :address")
        params["address"] = address[:100]
    query = "SELECT count(*) FROM login_failures WHERE " + " AND ".join(clauses)  # noqa: S608 - fixed clauses
    return int(sql.scalar(db, query, params))


def clear_failures(db: sql.Store, account: str) -> None:
    """A successful login forgets the account's failures."""
    sql.run(db, "DELETE FROM login_failures WHERE account = :account", {"account": account[:200]})


def prune(db: sql.Store, failures_before: datetime, devices_unused_since: datetime) -> int:
    """Forget old failures and devices unused for long; return how many rows went."""
    gone = sql.run(db, "DELETE FROM login_failures WHERE at < :before", {"before": to_iso(failures_before)})
    gone += sql.run(
        db, "DELETE FROM login_devices WHERE last_used_at < :before", {"before": to_iso(devices_unused_since)}
    )
    return gone
