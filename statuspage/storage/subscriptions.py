"""Email subscribers, webhook subscriptions and the subscribe form's rate-limit records.

The rules (double opt-in, token kinds, what a confirmation applies) live in
`statuspage/notify/subscriptions.py`; this module only reads and writes the
rows. Token arguments named `*_hash` are SHA-256 hex digests: the raw confirm
and verify tokens are never stored.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from shared.timeutil import to_iso
from statuspage.storage import sql
from statuspage.storage.sql import Store


def subscriber_id_by_email(db: Store, email: str) -> int | None:
    found = sql.scalar(db, "SELECT id FROM subscribers WHERE email = :email", {"email": email})
    return None if found is None else int(found)


def insert_subscriber(
    db: Store,
    email: str,
    components_json: str,
    confirm_hash: str,
    confirm_expires_at: datetime,
    unsubscribe_token: str,
    now: datetime,
) -> int:
    """A new pending subscriber; return its id."""
    return sql.insert_returning_id(
        db,
        "INSERT INTO subscribers (email, status, pending_components, confirm_token_hash,"
        " confirm_expires_at, unsubscribe_token, created_at)"
        " VALUES (:email, 'pending', :components, :confirm_hash, :expires, :unsubscribe, :now) RETURNING id",
        {
            "email": email,
            "components": components_json,
            "confirm_hash": confirm_hash,
            "expires": to_iso(confirm_expires_at),
            "unsubscribe": unsubscribe_token,
            "now": to_iso(now),
        },
    )


def renew_subscriber_request(
    db: Store, subscriber_id: int, components_json: str, confirm_hash: str, confirm_expires_at: datetime
) -> None:
    """A known address asks again: new pending components and token; a confirmed one stays confirmed."""
    sql.run(
        db,
        "UPDATE subscribers SET pending_components = :components, confirm_token_hash = :confirm_hash,"
        " confirm_expires_at = :expires,"
        " status = CASE status WHEN 'confirmed' THEN 'confirmed' ELSE 'pending' END WHERE id = :id",
        {
            "components": components_json,
            "confirm_hash": confirm_hash,
            "expires": to_iso(confirm_expires_at),
            "id": subscriber_id,
        },
    )


def confirm_token_known(db: Store, email: bool, token_hash: str, now: datetime) -> bool:
    """True when a subscriber (email) or webhook subscription holds this unexpired confirm/verify hash."""
    query = (
        "SELECT 1 FROM subscribers WHERE confirm_token_hash = :hash AND confirm_expires_at > :now"
        if email
        else "SELECT 1 FROM webhook_subscriptions"
        " WHERE verify_token_hash = :hash AND verify_expires_at > :now"
    )
    return sql.one(db, query, {"hash": token_hash, "now": to_iso(now)}) is not None


def confirm_subscriber(db: Store, token_hash: str, now: datetime) -> None:
    """Apply the pending components and mark the subscriber confirmed."""
    sql.run(
        db,
        "UPDATE subscribers SET status = 'confirmed', components = pending_components,"
        " confirmed_at = COALESCE(confirmed_at, :now), unsubscribed_at = NULL, confirm_token_hash = NULL,"
        " confirm_expires_at = NULL WHERE confirm_token_hash = :hash",
        {"now": to_iso(now), "hash": token_hash},
    )


def verify_webhook(db: Store, token_hash: str, now: datetime) -> None:
    """A pending self-service webhook proved it receives: it becomes active."""
    sql.run(
        db,
        "UPDATE webhook_subscriptions SET status = 'active', verified_at = :now, verify_token_hash = NULL,"
        " verify_expires_at = NULL WHERE verify_token_hash = :hash AND status = 'pending'",
        {"now": to_iso(now), "hash": token_hash},
    )


def unsubscribe_token_known(db: Store, email: bool, token: str) -> bool:
    query = (
        "SELECT 1 FROM subscribers WHERE unsubscribe_token = :token"
        if email
        else "SELECT 1 FROM webhook_subscriptions WHERE unsubscribe_token = :token"
    )
    return sql.one(db, query, {"token": token}) is not None


def subscriber_email_by_unsubscribe_token(db: Store, token: str) -> str | None:
    found = sql.scalar(db, "SELECT email FROM subscribers WHERE unsubscribe_token = :token", {"token": token})
    return None if found is None else str(found)


def mark_unsubscribed(db: Store, token: str, now: datetime) -> None:
    """End the email subscription holding `token` (a no-op when it already ended)."""
    sql.run(
        db,
        "UPDATE subscribers SET status = 'unsubscribed', unsubscribed_at = :now,"
        " confirm_token_hash = NULL WHERE unsubscribe_token = :token AND status != 'unsubscribed'",
        {"now": to_iso(now), "token": token},
    )


def mark_bounced(db: Store, email: str) -> None:
    """A confirmed address whose mail keeps failing is set aside (no more mail until it asks again)."""
    sql.run(
        db,
        "UPDATE subscribers SET status = 'bounced' WHERE email = :email AND status = 'confirmed'",
        {"email": email},
    )


def unsubscribe_token_of(db: Store, subscriber_id: int) -> str | None:
    found = sql.scalar(db, "SELECT unsubscribe_token FROM subscribers WHERE id = :id", {"id": subscriber_id})
    return None if found is None else str(found)


def subscriber_rows(db: Store, limit: int) -> list[dict[str, Any]]:
    """Email subscribers newest first: id, email, status, components (JSON), created_at, confirmed_at."""
    return sql.rows(
        db,
        "SELECT id, email, status, components, created_at, confirmed_at FROM subscribers"
        " ORDER BY id DESC LIMIT :limit",
        {"limit": limit},
    )


def counts_by_status(db: Store) -> dict[str, int]:
    return {
        str(status): int(count)
        for status, count in sql.tuples(db, "SELECT status, COUNT(*) FROM subscribers GROUP BY status")
    }


def confirmed_subscribers(db: Store) -> list[tuple[int, str, str, str]]:
    """(id, email, components JSON, unsubscribe token) of every confirmed subscriber."""
    return [
        (int(r[0]), str(r[1]), str(r[2]), str(r[3]))
        for r in sql.tuples(
            db,
            "SELECT id, email, components, unsubscribe_token FROM subscribers WHERE status = 'confirmed'",
        )
    ]


def webhook_id_by_unsubscribe_token(db: Store, token: str) -> int | None:
    found = sql.scalar(
        db, "SELECT id FROM webhook_subscriptions WHERE unsubscribe_token = :token", {"token": token}
    )
    return None if found is None else int(found)


def insert_webhook(db: Store, values: dict[str, Any]) -> int:
    """A new webhook subscription from its column values; return its id."""
    return sql.insert_returning_id(
        db,
        "INSERT INTO webhook_subscriptions (url, secret, origin, status, components, description,"
        " verify_token_hash, verify_expires_at, unsubscribe_token, created_at, verified_at)"
        " VALUES (:url, :secret, :origin, :status, :components, :description,"
        " :verify_token_hash, :verify_expires_at, :unsubscribe_token, :created_at, :verified_at)"
        " RETURNING id",
        values,
    )


def webhook_rows(db: Store, include_removed: bool) -> list[dict[str, Any]]:
    """Webhook subscriptions by id: id, url, origin, status, components (JSON), description,
    created_at, disabled_reason."""
    where = "" if include_removed else " WHERE status != 'removed'"
    return sql.rows(
        db,
        "SELECT id, url, origin, status, components, description, created_at, disabled_reason"  # noqa: S608
        f" FROM webhook_subscriptions{where} ORDER BY id",
    )


def active_webhooks(db: Store) -> list[tuple[int, str, str]]:
    """(id, components JSON, unsubscribe token) of every active webhook subscription."""
    return [
        (int(r[0]), str(r[1]), str(r[2]))
        for r in sql.tuples(
            db, "SELECT id, components, unsubscribe_token FROM webhook_subscriptions WHERE status = 'active'"
        )
    ]


def webhook_target(db: Store, webhook_id: int) -> tuple[str, str, str, str] | None:
    """(url, secret, origin, status) of a webhook subscription, or None when there is none."""
    found = sql.one(
        db,
        "SELECT url, secret, origin, status FROM webhook_subscriptions WHERE id = :id",
        {"id": webhook_id},
    )
    if found is None:
        return None
    return str(found["url"]), str(found["secret"]), str(found["origin"]), str(found["status"])


def activate_disabled_webhook(db: Store, webhook_id: int) -> bool:
    """A disabled webhook receives again; False when it was not disabled."""
    changed = sql.run(
        db,
        "UPDATE webhook_subscriptions SET status = 'active', disabled_at = NULL, disabled_reason = NULL"
        " WHERE id = :id AND status = 'disabled'",
        {"id": webhook_id},
    )
    return bool(changed)


def disable_webhook(db: Store, webhook_id: int, reason: str, now: datetime) -> None:
    sql.run(
        db,
        "UPDATE webhook_subscriptions SET status = 'disabled', disabled_at = :now, disabled_reason = :reason"
        " WHERE id = :id AND status IN ('active', 'pending')",
        {"now": to_iso(now), "reason": reason, "id": webhook_id},
    )


def mark_webhook_removed(db: Store, webhook_id: int) -> bool:
    """False when it was removed already (or never existed)."""
    changed = sql.run(
        db,
        "UPDATE webhook_subscriptions SET status = 'removed' WHERE id = :id AND status != 'removed'",
        {"id": webhook_id},
    )
    return bool(changed)


def record_attempts(db: Store, keys: Iterable[str], now: datetime) -> None:
    stamp = to_iso(now)
    sql.run_many(
        db,
        "INSERT INTO subscribe_attempts (key, at) VALUES (:key, :at)",
        ({"key": k, "at": stamp} for k in keys),
    )


def attempts_since(db: Store, key: str, since: datetime) -> int:
    return int(
        sql.scalar(
            db,
            "SELECT COUNT(*) FROM subscribe_attempts WHERE key = :key AND at > :since",
            {"key": key, "since": to_iso(since)},
        )
    )


def prune(db: Store, now: datetime, attempts_before: datetime) -> None:
    """Drop subscription requests never confirmed in time and rate-limit records past their use."""
    stamp = to_iso(now)
    sql.run(
        db, "DELETE FROM subscribers WHERE status = 'pending' AND confirm_expires_at < :now", {"now": stamp}
    )
    sql.run(
        db,
        "UPDATE webhook_subscriptions SET status = 'removed', verify_token_hash = NULL"
        " WHERE status = 'pending' AND verify_expires_at < :now",
        {"now": stamp},
    )
    sql.run(db, "DELETE FROM subscribe_attempts WHERE at < :before", {"before": to_iso(attempts_before)})
