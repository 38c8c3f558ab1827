"""The outbox: every notification is a row; workers claim rows with a lease and record the outcome.

Row contract (table `outbox`, migration 0002):
- `destination_kind` names how to deliver: a channel kind (`log`, `webhook`,
  `apprise`, `email`) with `destination` = a `[[channels]]` id, or
  `subscriber_email` (destination = the address) or `subscriber_webhook`
  (destination = a webhook_subscriptions id).
- `idempotency_key` is unique: enqueueing the same notification twice stores
  it once, and receivers see it as the webhook-id / Message-ID, so a resend
  after a crash is recognisable as the same message.

Claiming is one conditional UPDATE ... RETURNING (after healthchecks'
sendalerts): a row is free when it is due and its lease (`claimed_until`) is
unset or expired. SQLite runs that statement under its write lock, so two
workers never get the same row, and the rows a killed worker held come free
again when its lease runs out.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from statuspage.storage import outbox as stored
from statuspage.storage.sql import Store

SUBSCRIBER_EMAIL = "subscriber_email"
SUBSCRIBER_WEBHOOK = "subscriber_webhook"


@dataclass(frozen=True)
class NewNotification:
    """A notification to enqueue."""

    event: str
    destination_kind: str
    destination: str
    payload: dict[str, Any]
    idempotency_key: str


@dataclass(frozen=True)
class OutboxRow:
    """A claimed row, ready to deliver."""

    id: int
    event: str
    destination_kind: str
    destination: str
    payload: dict[str, Any]
    idempotency_key: str
    attempts: int
    created_at: str

    @property
    def destination_key(self) -> tuple[str, str]:
        return (self.destination_kind, self.destination)


def enqueue(db: Store, notifications: Iterable[NewNotification], now: datetime) -> int:
    """Insert notifications due now; ones whose idempotency key exists are ignored.

    Returns how many rows were new. Call inside the caller's transaction when
    the rows must appear together with other writes.
    """
    return stored.insert_notifications(
        db,
        (
            {
                "event": n.event,
                "destination_kind": n.destination_kind,
                "destination": n.destination,
                "payload": json.dumps(n.payload),
                "idempotency_key": n.idempotency_key,
            }
            for n in notifications
        ),
        now,
    )


def enqueue_channel_message(
    db: Store,
    channel_id: str,
    channel_kind: str,
    event: str,
    idempotency_key: str,
    title: str,
    body: str,
    now: datetime,
    data: dict[str, Any] | None = None,
) -> bool:
    """Queue a message for an operator channel (escalation, operator notices).

    `data` may carry `incident_id` and `url`; the channel templates show them.
    Returns False when the key was queued before.
    """
    payload = {"title": title, "body": body, **(data or {})}
    row = NewNotification(event, channel_kind, channel_id, payload, idempotency_key)
    return enqueue(db, [row], now) == 1


def claim(
    db: Store,
    worker_id: str,
    now: datetime,
    lease: timedelta,
    kinds: Iterable[str],
    busy: Iterable[tuple[str, str]],
    limit: int,
) -> list[OutboxRow]:
    """Lease up to `limit` due rows of the given kinds, skipping destinations in `busy`.

    Oldest due first. Returns exactly the rows this worker now holds.
    """
    claimed = stored.claim_due(db, worker_id, now, now + lease, kinds, busy, limit)
    found = [OutboxRow(r[0], r[1], r[2], r[3], json.loads(r[4]), r[5], r[6], r[7]) for r in claimed]
    return sorted(found, key=lambda row: row.id)


def release(db: Store, row_ids: Iterable[int]) -> None:
    """Give claimed rows back unattempted (the worker will not deliver them now)."""
    stored.release(db, row_ids)


def mark_delivered(db: Store, row_ids: Iterable[int], now: datetime) -> None:
    """Record successful sends (one statement for a batch: one commit, not one per row)."""
    stored.mark_delivered(db, row_ids, now)


def schedule_retry(db: Store, row_id: int, error: str, next_attempt_at: datetime) -> None:
    stored.schedule_retry(db, row_id, error[:1000], next_attempt_at)


def mark_failed(db: Store, row_id: int, error: str, now: datetime, attempted: bool = True) -> None:
    """No more attempts for this row (a permanent error, or attempts exhausted)."""
    stored.mark_failed(db, row_id, error[:1000], now, attempted)


def fail_pending_for(db: Store, kind: str, destination: str, reason: str, now: datetime) -> int:
    """Stop every undelivered row for a destination (it was disabled); return how many."""
    return stored.fail_pending_for(db, kind, destination, reason[:1000], now)


def counts(db: Store) -> dict[str, int]:
    """Rows by state: pending, delivered, failed (for the CLI and tests)."""
    return stored.state_counts(db)
