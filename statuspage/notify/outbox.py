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

from sqlite_utils import Database

from shared.timeutil import to_iso

SUBSCRIBER_EMAIL = "subscriber_email"
SUBSCRIBER_WEBHOOK = "subscriber_webhook"
_SEP = "\x1f"  # joins kind and destination into one comparable key


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


def enqueue(db: Database, notifications: Iterable[NewNotification], now: datetime) -> int:
    """Insert notifications due now; ones whose idempotency key exists are ignored.

    Returns how many rows were new. Call inside the caller's transaction when
    the rows must appear together with other writes.
    """
    stamp = to_iso(now)
    before = db.conn.total_changes
    db.conn.executemany(
        "INSERT OR IGNORE INTO outbox (event, destination_kind, destination, payload, idempotency_key,"
        " created_at, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            (
                n.event,
                n.destination_kind,
                n.destination,
                json.dumps(n.payload),
                n.idempotency_key,
                stamp,
                stamp,
            )
            for n in notifications
        ),
    )
    return db.conn.total_changes - before


def enqueue_channel_message(
    db: Database,
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
    db: Database,
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
    stamp = to_iso(now)
    cursor = db.execute(
        """
        UPDATE outbox SET claimed_until = :until, claimed_by = :worker
        WHERE id IN (
            SELECT id FROM outbox
            WHERE delivered_at IS NULL AND failed_at IS NULL AND next_attempt_at <= :now
              AND (claimed_until IS NULL OR claimed_until <= :now)
              -- unary + keeps the planner on outbox_due (already in due order, no sort)
              AND +destination_kind IN (SELECT value FROM json_each(:kinds))
              AND destination_kind || :sep || destination NOT IN (SELECT value FROM json_each(:busy))
            ORDER BY next_attempt_at, id
            LIMIT :limit
        ) AND (claimed_until IS NULL OR claimed_until <= :now)
        RETURNING id, event, destination_kind, destination, payload, idempotency_key, attempts, created_at
        """,
        {
            "until": to_iso(now + lease),
            "worker": worker_id,
            "now": stamp,
            "kinds": json.dumps(list(kinds)),
            "sep": _SEP,
            "busy": json.dumps([kind + _SEP + destination for kind, destination in busy]),
            "limit": limit,
        },
    )
    rows = [OutboxRow(r[0], r[1], r[2], r[3], json.loads(r[4]), r[5], r[6], r[7]) for r in cursor.fetchall()]
    return sorted(rows, key=lambda row: row.id)


def release(db: Database, row_ids: Iterable[int]) -> None:
    """Give claimed rows back unattempted (the worker will not deliver them now)."""
    db.conn.executemany(
        "UPDATE outbox SET claimed_until = NULL, claimed_by = NULL WHERE id = ?", ((i,) for i in row_ids)
    )


def mark_delivered(db: Database, row_ids: Iterable[int], now: datetime) -> None:
    """Record successful sends (one statement for a batch: one commit, not one per row)."""
    stamp = to_iso(now)
    db.conn.executemany(
        "UPDATE outbox SET delivered_at = ?, attempts = attempts + 1, last_error = NULL,"
        " claimed_until = NULL WHERE id = ? AND delivered_at IS NULL",
        [(stamp, row_id) for row_id in row_ids],
    )


def schedule_retry(db: Database, row_id: int, error: str, next_attempt_at: datetime) -> None:
    db.execute(
        "UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?,"
        " claimed_until = NULL, claimed_by = NULL WHERE id = ? AND delivered_at IS NULL",
        [error[:1000], to_iso(next_attempt_at), row_id],
    )


def mark_failed(db: Database, row_id: int, error: str, now: datetime, attempted: bool = True) -> None:
    """No more attempts for this row (a permanent error, or attempts exhausted)."""
    db.execute(
        "UPDATE outbox SET attempts = attempts + ?, last_error = ?, failed_at = ?,"
        " claimed_until = NULL WHERE id = ? AND delivered_at IS NULL",
        [1 if attempted else 0, error[:1000], to_iso(now), row_id],
    )


def fail_pending_for(db: Database, kind: str, destination: str, reason: str, now: datetime) -> int:
    """Stop every undelivered row for a destination (it was disabled); return how many."""
    cursor = db.execute(
        "UPDATE outbox SET failed_at = ?, last_error = ?, claimed_until = NULL"
        " WHERE destination_kind = ? AND destination = ? AND delivered_at IS NULL AND failed_at IS NULL",
        [to_iso(now), reason[:1000], kind, destination],
    )
    return int(cursor.rowcount)


def counts(db: Database) -> dict[str, int]:
    """Rows by state: pending, delivered, failed (for the CLI and tests)."""
    row = db.execute(
        "SELECT SUM(delivered_at IS NULL AND failed_at IS NULL), SUM(delivered_at IS NOT NULL),"
        " SUM(failed_at IS NOT NULL) FROM outbox"
    ).fetchone()
    return {"pending": row[0] or 0, "delivered": row[1] or 0, "failed": row[2] or 0}
