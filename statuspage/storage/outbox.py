"""The outbox: every side effect is a row, written in the transaction that decided it.

The engine only enqueues. Delivery (claim with a conditional UPDATE, retries,
permanent failures) belongs to `statuspage/notify/`. The idempotency key makes
enqueueing the same effect twice a no-op, so a retried evaluation never pages twice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from shared.timeutil import from_iso, to_iso


@dataclass(frozen=True)
class OutboxRow:
    id: int
    event: str
    destination_kind: str
    destination: str
    payload: dict[str, Any]
    idempotency_key: str
    created_at: datetime
    attempts: int
    delivered_at: datetime | None
    failed_at: datetime | None


def enqueue(
    db: Database,
    *,
    event: str,
    destination_kind: str,
    destination: str,
    payload: dict[str, Any],
    idempotency_key: str,
    now: datetime,
) -> bool:
    """Add one effect, due at once; False when `idempotency_key` was already enqueued."""
    cursor = db.execute(
        "INSERT OR IGNORE INTO outbox (event, destination_kind, destination, payload, idempotency_key,"
        " created_at, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            event,
            destination_kind,
            destination,
            json.dumps(payload, default=str),
            idempotency_key,
            to_iso(now),
            to_iso(now),
        ],
    )
    return cursor.rowcount == 1


def list_outbox(db: Database, key_prefix: str = "", limit: int = 1000) -> list[OutboxRow]:
    """Outbox rows oldest first, optionally those whose idempotency key starts with `key_prefix`."""
    cursor = db.execute(
        "SELECT id, event, destination_kind, destination, payload, idempotency_key, created_at, attempts,"
        " delivered_at, failed_at FROM outbox WHERE idempotency_key LIKE ? ORDER BY id LIMIT ?",
        [key_prefix.replace("%", "") + "%", limit],
    )
    return [
        OutboxRow(
            id=int(r[0]),
            event=r[1],
            destination_kind=r[2],
            destination=r[3],
            payload=json.loads(r[4]),
            idempotency_key=r[5],
            created_at=from_iso(r[6]),
            attempts=int(r[7]),
            delivered_at=from_iso(r[8]) if r[8] else None,
            failed_at=from_iso(r[9]) if r[9] else None,
        )
        for r in cursor.fetchall()
    ]
