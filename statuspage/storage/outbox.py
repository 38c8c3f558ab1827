"""The outbox: every side effect is a row, written in the transaction that decided it.

The engine only enqueues. Delivery (claim with a conditional UPDATE, retries,
permanent failures) belongs to `statuspage/notify/`. The idempotency key makes
enqueueing the same effect twice a no-op, so a retried evaluation never pages twice.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.timeutil import from_iso, to_iso
from statuspage.storage import sql
from statuspage.storage.sql import Store


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
    db: Store,
    *,
    event: str,
    destination_kind: str,
    destination: str,
    payload: dict[str, Any],
    idempotency_key: str,
    now: datetime,
) -> bool:
    """Add one effect, due at once; False when `idempotency_key` was already enqueued."""
    row = {
        "event": event,
        "destination_kind": destination_kind,
        "destination": destination,
        "payload": json.dumps(payload, default=str),
        "idempotency_key": idempotency_key,
    }
    return insert_notifications(db, [row], now) == 1


def list_outbox(db: Store, key_prefix: str = "", limit: int = 1000) -> list[OutboxRow]:
    """Outbox rows oldest first, optionally those whose idempotency key starts with `key_prefix`."""
    rows = sql.tuples(
        db,
        "SELECT id, event, destination_kind, destination, payload, idempotency_key, created_at, attempts,"
        " delivered_at, failed_at FROM outbox WHERE substr(idempotency_key, 1, :length) = :prefix"
        " ORDER BY id LIMIT :limit",
        {"length": len(key_prefix), "prefix": key_prefix, "limit": limit},
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
        for r in rows
    ]


# The delivery side (statuspage/notify/outbox.py owns its types and rules).

_SEP = "\x1f"  # joins kind and destination into one comparable key
_INSERT = (
    "INSERT INTO outbox (event, destination_kind, destination, payload, idempotency_key,"
    " created_at, next_attempt_at)"
    " VALUES (:event, :destination_kind, :destination, :payload, :idempotency_key, :now, :now)"
    " ON CONFLICT (idempotency_key) DO NOTHING"
)


def insert_notifications(db: Store, notifications: Iterable[Mapping[str, Any]], now: datetime) -> int:
    """Insert rows (event, destination_kind, destination, payload JSON, idempotency_key) due now.

    Keys already stored are skipped; returns how many rows were new.
    """
    stamp = to_iso(now)
    return sql.run_many(db, _INSERT, ({**n, "now": stamp} for n in notifications))


def claim_due(
    db: Store,
    worker_id: str,
    now: datetime,
    until: datetime,
    kinds: Iterable[str],
    busy: Iterable[tuple[str, str]],
    limit: int,
) -> list[tuple[Any, ...]]:
    """Lease up to `limit` due rows of `kinds`, skipping destinations in `busy`, oldest due first.

    Returns (id, event, destination_kind, destination, payload, idempotency_key,
    attempts, created_at) of exactly the rows this worker now holds.
    """
    kind_names = sorted(set(kinds))
    if not kind_names:
        return []
    busy_list, busy_params = sql.in_list("busy", [kind + _SEP + destination for kind, destination in busy])
    skip_busy = f" AND destination_kind || :sep || destination NOT IN ({busy_list})" if busy_params else ""
    # One index range per kind (outbox_due_kind is in (kind, due, id) order), so a kind with
    # nothing due costs one index probe, whatever else is pending; several kinds are merged.
    per_kind = [
        f"SELECT id, next_attempt_at FROM (SELECT id, next_attempt_at FROM outbox"  # noqa: S608 - names only
        f" WHERE destination_kind = :kind{index} AND next_attempt_at <= :now"
        f" AND delivered_at IS NULL AND failed_at IS NULL"
        f" AND (claimed_until IS NULL OR claimed_until <= :now){skip_busy}"
        f" ORDER BY next_attempt_at, id LIMIT :limit) AS due{index}"
        for index in range(len(kind_names))
    ]
    candidates = per_kind[0] if len(per_kind) == 1 else " UNION ALL ".join(per_kind)
    stamp = to_iso(now)
    params = {
        **{f"kind{index}": kind for index, kind in enumerate(kind_names)},
        **busy_params,
        "now": stamp,
        "sep": _SEP,
        "limit": limit,
    }
    # A read first: an idle lane polls several times a second, and on SQLite even an
    # UPDATE that matches nothing takes the write lock that ingest queues for.
    if sql.scalar(db, f"SELECT id FROM ({candidates}) AS due LIMIT 1", params) is None:  # noqa: S608 - names only
        return []
    return sql.tuples(
        db,
        f"""
        UPDATE outbox SET claimed_until = :until, claimed_by = :worker
        WHERE id IN (
            SELECT id FROM ({candidates}) AS due ORDER BY next_attempt_at, id LIMIT :limit
        ) AND (claimed_until IS NULL OR claimed_until <= :now)
        RETURNING id, event, destination_kind, destination, payload, idempotency_key, attempts, created_at
        """,  # noqa: S608 - parameter names only
        {**params, "until": to_iso(until), "worker": worker_id},
    )


def release(db: Store, row_ids: Iterable[int]) -> None:
    """Give claimed rows back unattempted."""
    sql.run_many(
        db,
        "UPDATE outbox SET claimed_until = NULL, claimed_by = NULL WHERE id = :id",
        ({"id": i} for i in row_ids),
    )


def mark_delivered(db: Store, row_ids: Iterable[int], now: datetime) -> None:
    """Record successful sends (one statement for a batch: one commit, not one per row)."""
    stamp = to_iso(now)
    sql.run_many(
        db,
        "UPDATE outbox SET delivered_at = :now, attempts = attempts + 1, last_error = NULL,"
        " claimed_until = NULL WHERE id = :id AND delivered_at IS NULL",
        ({"now": stamp, "id": row_id} for row_id in row_ids),
    )


def schedule_retry(db: Store, row_id: int, error: str, next_attempt_at: datetime) -> None:
    sql.run(
        db,
        "UPDATE outbox SET attempts = attempts + 1, last_error = :error, next_attempt_at = :next,"
        " claimed_until = NULL, claimed_by = NULL WHERE id = :id AND delivered_at IS NULL",
        {"error": error, "next": to_iso(next_attempt_at), "id": row_id},
    )


def mark_failed(db: Store, row_id: int, error: str, now: datetime, attempted: bool) -> None:
    sql.run(
        db,
        "UPDATE outbox SET attempts = attempts + :attempted, last_error = :error, failed_at = :now,"
        " claimed_until = NULL WHERE id = :id AND delivered_at IS NULL",
        {"attempted": 1 if attempted else 0, "error": error, "now": to_iso(now), "id": row_id},
    )


def fail_pending_for(db: Store, kind: str, destination: str, reason: str, now: datetime) -> int:
    """Stop every undelivered row for a destination; return how many."""
    return sql.run(
        db,
        "UPDATE outbox SET failed_at = :now, last_error = :reason, claimed_until = NULL"
        " WHERE destination_kind = :kind AND destination = :destination"
        " AND delivered_at IS NULL AND failed_at IS NULL",
        {"now": to_iso(now), "reason": reason, "kind": kind, "destination": destination},
    )


def fail_unknown_kinds(db: Store, known_kinds: Iterable[str], now: datetime) -> int:
    """Fail undelivered rows whose destination_kind is not in `known_kinds`; return how many."""
    kind_list, params = sql.in_list("kind", known_kinds)
    known = f" AND destination_kind NOT IN ({kind_list})" if params else ""
    return sql.run(
        db,
        "UPDATE outbox SET failed_at = :now, last_error = 'unknown destination_kind'"  # noqa: S608 - names only
        f" WHERE delivered_at IS NULL AND failed_at IS NULL{known}",
        {**params, "now": to_iso(now)},
    )


def prune_finished(db: Store, before: datetime) -> None:
    """Drop rows delivered or failed before `before`."""
    sql.run(
        db,
        "DELETE FROM outbox WHERE (delivered_at IS NOT NULL AND delivered_at < :before)"
        " OR (failed_at IS NOT NULL AND failed_at < :before)",
        {"before": to_iso(before)},
    )


def state_counts(db: Store) -> dict[str, int]:
    """Rows by state: pending, delivered, failed."""
    row = sql.one(
        db,
        "SELECT SUM(CASE WHEN delivered_at IS NULL AND failed_at IS NULL THEN 1 ELSE 0 END) AS pending,"
        " SUM(CASE WHEN delivered_at IS NOT NULL THEN 1 ELSE 0 END) AS delivered,"
        " SUM(CASE WHEN failed_at IS NOT NULL THEN 1 ELSE 0 END) AS failed FROM outbox",
    )
    return {name: int((row or {}).get(name) or 0) for name in ("pending", "delivered", "failed")}
