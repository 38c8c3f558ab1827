"""Delivery health per destination (table `destinations`) and the operator notices it raises.

The policy (how many failures for how long disable a destination, who is
told) lives in `statuspage/notify/destinations.py`; this module reads and
writes the rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from shared.timeutil import to_iso
from statuspage.storage import sql
from statuspage.storage.sql import Store

_SEP = "\x1f"  # joins kind and destination into one comparable key

STATE_COLUMNS = (
    "kind, destination, consecutive_failures, failing_since, last_error, last_success_at,"
    " disabled_at, disabled_reason"
)


def record_success(db: Store, kind: str, destination: str, now: datetime) -> None:
    """Reset the failure streak (touches only destinations that had one)."""
    sql.run(
        db,
        "UPDATE destinations SET consecutive_failures = 0, failing_since = NULL, last_success_at = :now"
        " WHERE kind = :kind AND destination = :destination AND consecutive_failures > 0",
        {"now": to_iso(now), "kind": kind, "destination": destination},
    )


def record_failure(
    db: Store, kind: str, destination: str, error: str, now: datetime
) -> tuple[int, str, str | None]:
    """Count a failed attempt; return (consecutive failures, failing since, disabled at)."""
    params = {"kind": kind, "destination": destination, "now": to_iso(now), "error": error}
    sql.run(
        db,
        """
        INSERT INTO destinations (kind, destination, consecutive_failures, failing_since, last_error)
        VALUES (:kind, :destination, 1, :now, :error)
        ON CONFLICT (kind, destination) DO UPDATE SET
            consecutive_failures = destinations.consecutive_failures + 1,
            failing_since = COALESCE(destinations.failing_since, excluded.failing_since),
            last_error = excluded.last_error
        """,
        params,
    )
    row = sql.one(
        db,
        "SELECT consecutive_failures, failing_since, disabled_at FROM destinations"
        " WHERE kind = :kind AND destination = :destination",
        params,
    )
    assert row is not None  # just upserted, in the caller's transaction
    return int(row["consecutive_failures"]), str(row["failing_since"]), row["disabled_at"]


def troubled(db: Store, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], bool]:
    """Of these destinations, the ones with a failure streak or disabled: key -> disabled?"""
    joined, params = sql.in_list("key", [kind + _SEP + destination for kind, destination in keys])
    if not params:
        return {}
    found = sql.tuples(
        db,
        "SELECT kind, destination, disabled_at IS NOT NULL FROM destinations"  # noqa: S608 - parameter names only
        " WHERE (consecutive_failures > 0 OR disabled_at IS NOT NULL)"
        f" AND kind || :sep || destination IN ({joined})",
        {**params, "sep": _SEP},
    )
    return {(str(kind), str(destination)): bool(disabled) for kind, destination, disabled in found}


def disabled_at(db: Store, kind: str, destination: str) -> str | None:
    found = sql.scalar(
        db,
        "SELECT disabled_at FROM destinations WHERE kind = :kind AND destination = :destination",
        {"kind": kind, "destination": destination},
    )
    return None if found is None else str(found)


def mark_disabled(db: Store, kind: str, destination: str, reason: str, now: datetime) -> None:
    sql.run(
        db,
        """
        INSERT INTO destinations (kind, destination, disabled_at, disabled_reason, last_error)
        VALUES (:kind, :destination, :now, :reason, :reason)
        ON CONFLICT (kind, destination) DO UPDATE SET
            disabled_at = excluded.disabled_at, disabled_reason = excluded.disabled_reason
        """,
        {"kind": kind, "destination": destination, "now": to_iso(now), "reason": reason},
    )


def enable(db: Store, kind: str, destination: str) -> bool:
    """Re-enable a disabled destination; False if it was not disabled."""
    changed = sql.run(
        db,
        "UPDATE destinations SET disabled_at = NULL, disabled_reason = NULL, consecutive_failures = 0,"
        " failing_since = NULL WHERE kind = :kind AND destination = :destination AND disabled_at IS NOT NULL",
        {"kind": kind, "destination": destination},
    )
    return bool(changed)


def state_row(db: Store, kind: str, destination: str) -> dict[str, Any] | None:
    """The destination's row (columns as in STATE_COLUMNS), or None when it never failed."""
    return sql.one(
        db,
        f"SELECT {STATE_COLUMNS} FROM destinations WHERE kind = :kind AND destination = :destination",  # noqa: S608
        {"kind": kind, "destination": destination},
    )


def add_operator_notice(
    db: Store, kind: str, subject: str, message: str, data: dict[str, Any], now: datetime
) -> int:
    """A notice the admin UI lists; return its id."""
    return sql.insert_returning_id(
        db,
        "INSERT INTO operator_notices (at, kind, subject, message, data)"
        " VALUES (:at, :kind, :subject, :message, :data) RETURNING id",
        {"at": to_iso(now), "kind": kind, "subject": subject, "message": message, "data": json.dumps(data)},
    )
