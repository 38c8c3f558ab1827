"""Delivery health per destination: failures are recorded as data; a destination that keeps
failing for `notify.disable_after_s` (or answers 410 Gone) is disabled and operators are told.

Telling operators means: a row in `operator_notices` (the admin UI lists
them), a WARNING log line, a timeline event on the incident when the failed
message was about one, and a message to `notify.operator_channel` if set.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shared.timeutil import from_iso, to_iso
from statuspage.notify import outbox
from statuspage.storage import destinations as stored
from statuspage.storage import sql
from statuspage.storage import subscriptions as subscription_rows
from statuspage.storage.incidents import record_event
from statuspage.storage.sql import Store

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


def record_success(db: Store, kind: str, destination: str, now: datetime) -> None:
    """Reset the failure streak (touches only destinations that had one)."""
    stored.record_success(db, kind, destination, now)


def record_failure(
    db: Store, kind: str, destination: str, error: str, now: datetime, disable_after: timedelta
) -> bool:
    """Count a failed attempt; return True when the destination has now failed long enough to disable."""
    failures, since, disabled_at = stored.record_failure(db, kind, destination, error[:1000], now)
    if disabled_at is not None:
        return False
    return failures >= MIN_FAILURES_BEFORE_DISABLE and now - from_iso(since) >= disable_after


def troubled(db: Store, keys: list[tuple[str, str]]) -> dict[tuple[str, str], bool]:
    """Of these destinations, the ones with a failure streak or disabled: key -> disabled?

    One query for a whole claimed batch; healthy destinations are simply absent.
    """
    return stored.troubled(db, keys)


def is_disabled(db: Store, kind: str, destination: str) -> bool:
    return stored.disabled_at(db, kind, destination) is not None


def disable(
    db: Store,
    kind: str,
    destination: str,
    reason: str,
    now: datetime,
    settings_operator_channel: tuple[str, str] | None,
    incident_id: int | None = None,
) -> None:
    """Disable a destination, stop its queued rows and tell operators (one transaction)."""
    stamp = to_iso(now)
    with sql.write(db):
        stored.mark_disabled(db, kind, destination, reason[:1000], now)
        dropped = outbox.fail_pending_for(db, kind, destination, f"destination disabled: {reason}", now)
        if kind == outbox.SUBSCRIBER_WEBHOOK:
            subscription_rows.disable_webhook(db, int(destination), reason[:1000], now)
        if kind == outbox.SUBSCRIBER_EMAIL:
            subscription_rows.mark_bounced(db, destination)
        subject = f"{kind} destination {_display(kind, destination)} disabled"
        message = f"{subject}: {reason}. {dropped} queued notification(s) dropped."
        data: dict[str, Any] = {"kind": kind, "destination": destination, "reason": reason}
        stored.add_operator_notice(db, "destination_disabled", subject, message, data, now)
        if incident_id is not None:
            record_event(db, incident_id, "notification_disabled", "notify", now, data)
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


def enable(db: Store, kind: str, destination: str) -> bool:
    """Re-enable a disabled destination (operator action); return False if it was not disabled."""
    return stored.enable(db, kind, destination)


def state(db: Store, kind: str, destination: str) -> DestinationState | None:
    row = stored.state_row(db, kind, destination)
    return DestinationState(**row) if row else None


def _display(kind: str, destination: str) -> str:
    # Subscriber addresses are personal data: operators see the domain only in notices.
    if kind == outbox.SUBSCRIBER_EMAIL and "@" in destination:
        return "*@" + destination.split("@", 1)[1]
    return destination
