"""Delivery health per destination: failures are recorded as data; a destination that keeps
failing for `notify.disable_after_s` (or answers 410 Gone) is disabled and operators are told.

Telling operators means: a row in `operator_notices` (the admin UI lists
them), a WARNING log line, a timeline event on the incident when the failed
message was about one, and a message to `notify.operator_channel` if set.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlite_utils import Database

from shared.timeutil import from_iso, to_iso
from statuspage.notify import outbox
from statuspage.storage.transaction import immediate

log = logging.getLogger(__name__)

# A single failure never disables: one bad minute is not "failing for long".
MIN_FAILURES_BEFORE_DISABLE = 3


@dataclass(frozen=True)
class DestinationState:
    kind: str
    destination: str
    consecutive_failures: int
    failing_since: str | None
    last_error: str | None
    last_success_at: str | None
    disabled_at: str | None
    disabled_reason: str | None


def record_success(db: Database, kind: str, destination: str, now: datetime) -> None:
    """Reset the failure streak (touches only destinations that had one)."""
    db.execute(
        "UPDATE destinations SET consecutive_failures = 0, failing_since = NULL, last_success_at = ?"
        " WHERE kind = ? AND destination = ? AND consecutive_failures > 0",
        [to_iso(now), kind, destination],
    )


def record_failure(
    db: Database, kind: str, destination: str, error: str, now: datetime, disable_after: timedelta
) -> bool:
    """Count a failed attempt; return True when the destination has now failed long enough to disable."""
    stamp = to_iso(now)
    db.execute(
        """
        INSERT INTO destinations (kind, destination, consecutive_failures, failing_since, last_error)
        VALUES (?, ?, 1, ?, ?)
        ON CONFLICT (kind, destination) DO UPDATE SET
            consecutive_failures = consecutive_failures + 1,
            failing_since = COALESCE(failing_since, excluded.failing_since),
            last_error = excluded.last_error
        """,
        [kind, destination, stamp, error[:1000]],
    )
    row = db.execute(
        "SELECT consecutive_failures, failing_since, disabled_at FROM destinations"
        " WHERE kind = ? AND destination = ?",
        [kind, destination],
    ).fetchone()
    failures, since, disabled_at = row
    if disabled_at is not None:
        return False
    return failures >= MIN_FAILURES_BEFORE_DISABLE and now - from_iso(since) >= disable_after


def troubled(db: Database, keys: list[tuple[str, str]]) -> dict[tuple[str, str], bool]:
    """Of these destinations, the ones with a failure streak or disabled: key -> disabled?

    One query for a whole claimed batch; healthy destinations are simply absent.
    """
    rows = db.execute(
        "SELECT kind, destination, disabled_at IS NOT NULL FROM destinations"
        " WHERE (consecutive_failures > 0 OR disabled_at IS NOT NULL)"
        " AND kind || char(31) || destination IN (SELECT value FROM json_each(?))",
        [json.dumps([kind + "\x1f" + destination for kind, destination in keys])],
    ).fetchall()
    return {(kind, destination): bool(disabled) for kind, destination, disabled in rows}


def is_disabled(db: Database, kind: str, destination: str) -> bool:
    row = db.execute(
        "SELECT disabled_at FROM destinations WHERE kind = ? AND destination = ?", [kind, destination]
    ).fetchone()
    return row is not None and row[0] is not None


def disable(
    db: Database,
    kind: str,
    destination: str,
    reason: str,
    now: datetime,
    settings_operator_channel: tuple[str, str] | None,
    incident_id: int | None = None,
) -> None:
    """Disable a destination, stop its queued rows and tell operators (one transaction)."""
    stamp = to_iso(now)
    with immediate(db):
        db.execute(
            """
            INSERT INTO destinations (kind, destination, disabled_at, disabled_reason, last_error)
            VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (kind, destination) DO UPDATE SET
                disabled_at = excluded.disabled_at, disabled_reason = excluded.disabled_reason
            """,
            [kind, destination, stamp, reason[:1000], reason[:1000]],
        )
        dropped = outbox.fail_pending_for(db, kind, destination, f"destination disabled: {reason}", now)
        if kind == outbox.SUBSCRIBER_WEBHOOK:
            db.execute(
                "UPDATE webhook_subscriptions SET status = 'disabled', disabled_at = ?, disabled_reason = ?"
                " WHERE id = ? AND status IN ('active', 'pending')",
                [stamp, reason[:1000], int(destination)],
            )
        if kind == outbox.SUBSCRIBER_EMAIL:
            db.execute(
                "UPDATE subscribers SET status = 'bounced' WHERE email = ? AND status = 'confirmed'",
                [destination],
            )
        subject = f"{kind} destination {_display(kind, destination)} disabled"
        message = f"{subject}: {reason}. {dropped} queued notification(s) dropped."
        data: dict[str, Any] = {"kind": kind, "destination": destination, "reason": reason}
        db.execute(
            "INSERT INTO operator_notices (at, kind, subject, message, data) VALUES (?, ?, ?, ?, ?)",
            [stamp, "destination_disabled", subject, message, json.dumps(data)],
        )
        if incident_id is not None:
            db.execute(
                "INSERT INTO incident_events (incident_id, at, actor, kind, data) VALUES (?, ?, ?, ?, ?)",
                [incident_id, stamp, "notify", "notification_disabled", json.dumps(data)],
            )
        if settings_operator_channel is not None and settings_operator_channel != (kind, destination):
            channel_kind, channel_id = settings_operator_channel
            outbox.enqueue_channel_message(
                db,
                channel_id,
                channel_kind,
                "operator.destination_disabled",
                f"destination-disabled:{kind}:{destination}:{stamp}",
                subject,
                message,
                now,
            )
    log.warning(
        "notification destination disabled kind=%s destination=%s dropped=%d reason=%s",
        kind,
        _display(kind, destination),
        dropped,
        reason,
    )


def enable(db: Database, kind: str, destination: str) -> bool:
    """Re-enable a disabled destination (operator action); return False if it was not disabled."""
    cursor = db.execute(
        "UPDATE destinations SET disabled_at = NULL, disabled_reason = NULL, consecutive_failures = 0,"
        " failing_since = NULL WHERE kind = ? AND destination = ? AND disabled_at IS NOT NULL",
        [kind, destination],
    )
    return bool(cursor.rowcount)


def state(db: Database, kind: str, destination: str) -> DestinationState | None:
    row = db.execute(
        "SELECT kind, destination, consecutive_failures, failing_since, last_error, last_success_at,"
        " disabled_at, disabled_reason FROM destinations WHERE kind = ? AND destination = ?",
        [kind, destination],
    ).fetchone()
    return DestinationState(*row) if row else None


def _display(kind: str, destination: str) -> str:
    # Subscriber addresses are personal data: operators see the domain only in notices.
    if kind == outbox.SUBSCRIBER_EMAIL and "@" in destination:
        return "*@" + destination.split("@", 1)[1]
    return destination
