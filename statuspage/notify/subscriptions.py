"""Subscriptions as data: email subscribers (double opt-in) and webhook subscriptions
(operator-registered, or self-service with a verification step), plus the
records behind the form's rate limits.

Tokens: the confirm / verify token exists only in the mail or webhook that
carries it; the database keeps its SHA-256. The unsubscribe token is stored
as is, because every notification's links are built from it long after the
subscription was made; all it can do is end that one subscription. Tokens
carry a prefix that says which kind of subscription they belong to.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlite_utils import Database

from shared.timeutil import to_iso
from statuspage.notify import destinations, outbox
from statuspage.notify.outbox import NewNotification
from statuspage.notify.signing import new_secret
from statuspage.settings import Settings
from statuspage.storage.transaction import immediate

EMAIL_TOKEN = "se_"
WEBHOOK_TOKEN = "sw_"


@dataclass(frozen=True)
class WebhookSubscription:
    id: int
    url: str
    origin: str
    status: str
    components: list[str]
    description: str
    created_at: str
    disabled_reason: str | None


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(24)


def request_email_subscription(
    db: Database, settings: Settings, email: str, components: list[str], now: datetime
) -> int:
    """Store a (re)subscription request and queue its confirmation mail; return the subscriber id.

    A confirmed subscriber stays subscribed until the new confirmation is used
    (which also applies the newly chosen components). The confirmation mail
    holds no text from the form: only the page's name, the link and the
    configured names of the chosen components.
    """
    token = new_token(EMAIL_TOKEN)
    expires = now + timedelta(seconds=settings.subscriptions.confirm_within_s)
    with immediate(db):
        existing = db.execute("SELECT id FROM subscribers WHERE email = ?", [email]).fetchone()
        if existing is None:
            cursor = db.execute(
                "INSERT INTO subscribers (email, status, pending_components, confirm_token_hash,"
                " confirm_expires_at, unsubscribe_token, created_at) VALUES (?, 'pending', ?, ?, ?, ?, ?)",
                [
                    email,
                    json.dumps(components),
                    hash_token(token),
                    to_iso(expires),
                    new_token(EMAIL_TOKEN),
                    to_iso(now),
                ],
            )
            subscriber_id = int(cursor.lastrowid or 0)
        else:
            subscriber_id = int(existing[0])
            db.execute(
                "UPDATE subscribers SET pending_components = ?, confirm_token_hash = ?,"
                " confirm_expires_at = ?,"
                " status = CASE status WHEN 'confirmed' THEN 'confirmed' ELSE 'pending' END WHERE id = ?",
                [json.dumps(components), hash_token(token), to_iso(expires), subscriber_id],
            )
        # The person asks for mail again: a past bounce no longer stops the confirmation.
        destinations.enable(db, outbox.SUBSCRIBER_EMAIL, email)
        names = [c.name for c in settings.components if c.id in components]
        payload = {
            "confirm_url": f"{settings.page.url}/subscribe/confirm/{token}",
            "components": names,
            "valid_hours": round(settings.subscriptions.confirm_within_s / 3600),
        }
        key = f"{outbox.SUBSCRIBER_EMAIL}:{subscriber_id}:confirm:{hash_token(token)[:16]}"
        outbox.enqueue(
            db, [NewNotification("subscription.confirm", outbox.SUBSCRIBER_EMAIL, email, payload, key)], now
        )
    return subscriber_id


def confirmable(db: Database, token: str, now: datetime) -> bool:
    """True when the confirm token names a subscriber and has not expired."""
    table, column = _confirm_columns(token)
    row = db.execute(
        f"SELECT 1 FROM {table} WHERE {column}_token_hash = ? AND {column}_expires_at > ?",  # noqa: S608 - fixed names
        [hash_token(token), to_iso(now)],
    ).fetchone()
    return row is not None


def confirm(db: Database, token: str, now: datetime) -> bool:
    """Use a confirm (email) or verify (webhook) token; return False when unknown or expired."""
    if not confirmable(db, token, now):
        return False
    if token.startswith(EMAIL_TOKEN):
        db.execute(
            "UPDATE subscribers SET status = 'confirmed', components = pending_components,"
            " confirmed_at = COALESCE(confirmed_at, ?), unsubscribed_at = NULL, confirm_token_hash = NULL,"
            " confirm_expires_at = NULL WHERE confirm_token_hash = ?",
            [to_iso(now), hash_token(token)],
        )
    else:
        db.execute(
            "UPDATE webhook_subscriptions SET status = 'active', verified_at = ?, verify_token_hash = NULL,"
            " verify_expires_at = NULL WHERE verify_token_hash = ? AND status = 'pending'",
            [to_iso(now), hash_token(token)],
        )
    return True


def unsubscribable(db: Database, token: str) -> bool:
    table = "subscribers" if token.startswith(EMAIL_TOKEN) else "webhook_subscriptions"
    row = db.execute(
        f"SELECT 1 FROM {table} WHERE unsubscribe_token = ?",  # noqa: S608 - fixed names
        [token],
    ).fetchone()
    return row is not None


def unsubscribe(db: Database, token: str, now: datetime) -> bool:
    """End the subscription the token belongs to and drop what is queued for it.

    Idempotent: unsubscribing twice is fine. Returns False for an unknown token.
    """
    with immediate(db):
        if token.startswith(EMAIL_TOKEN):
            row = db.execute("SELECT email FROM subscribers WHERE unsubscribe_token = ?", [token]).fetchone()
            if row is None:
                return False
            db.execute(
                "UPDATE subscribers SET status = 'unsubscribed', unsubscribed_at = ?,"
                " confirm_token_hash = NULL WHERE unsubscribe_token = ? AND status != 'unsubscribed'",
                [to_iso(now), token],
            )
            outbox.fail_pending_for(db, outbox.SUBSCRIBER_EMAIL, row[0], "unsubscribed", now)
            return True
        row = db.execute(
            "SELECT id FROM webhook_subscriptions WHERE unsubscribe_token = ?", [token]
        ).fetchone()
        if row is None:
            return False
        _remove_webhook(db, int(row[0]), now)
        return True


def create_webhook_subscription(
    db: Database,
    settings: Settings,
    url: str,
    components: list[str],
    now: datetime,
    origin: str = "operator",
    description: str = "",
) -> tuple[int, str]:
    """Register a webhook; return (id, signing secret). The secret is shown to its owner once.

    Operator-registered ones are active at once and trusted (they may point
    into the private network). Self-service ones start pending: the receiver
    gets a signed `subscription.verify` message whose `verify_url` must be
    POSTed to (or opened and confirmed in a browser) before anything else is sent.
    """
    if origin not in ("operator", "self"):
        raise ValueError("origin must be 'operator' or 'self'")
    secret = new_secret()
    token = new_token(WEBHOOK_TOKEN)
    expires = now + timedelta(seconds=settings.subscriptions.confirm_within_s)
    unsubscribe_token = new_token(WEBHOOK_TOKEN)
    with immediate(db):
        cursor = db.execute(
            "INSERT INTO webhook_subscriptions (url, secret, origin, status, components, description,"
            " verify_token_hash, verify_expires_at, unsubscribe_token, created_at, verified_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                url,
                secret,
                origin,
                "active" if origin == "operator" else "pending",
                json.dumps(components),
                description[:200],
                None if origin == "operator" else hash_token(token),
                None if origin == "operator" else to_iso(expires),
                unsubscribe_token,
                to_iso(now),
                to_iso(now) if origin == "operator" else None,
            ],
        )
        webhook_id = int(cursor.lastrowid or 0)
        if origin == "self":
            payload = {
                "timestamp": to_iso(now),
                "page": {"name": settings.page.name, "url": settings.page.url},
                "verify_url": f"{settings.page.url}/subscribe/verify/{token}",
                "meta": {"unsubscribe": f"{settings.page.url}/unsubscribe/{unsubscribe_token}"},
            }
            notification = NewNotification(
                "subscription.verify",
                outbox.SUBSCRIBER_WEBHOOK,
                str(webhook_id),
                payload,
                f"{outbox.SUBSCRIBER_WEBHOOK}:{webhook_id}:verify",
            )
            outbox.enqueue(db, [notification], now)
    return webhook_id, secret


def list_webhooks(db: Database, include_removed: bool = False) -> list[WebhookSubscription]:
    rows = db.execute(
        "SELECT id, url, origin, status, components, description, created_at, disabled_reason"
        " FROM webhook_subscriptions WHERE ? OR status != 'removed' ORDER BY id",
        [include_removed],
    ).fetchall()
    return [WebhookSubscription(r[0], r[1], r[2], r[3], json.loads(r[4]), r[5], r[6], r[7]) for r in rows]


def enable_webhook(db: Database, webhook_id: int) -> bool:
    """Operator action: a disabled webhook receives again; False when it was not disabled."""
    with immediate(db):
        cursor = db.execute(
            "UPDATE webhook_subscriptions SET status = 'active', disabled_at = NULL, disabled_reason = NULL"
            " WHERE id = ? AND status = 'disabled'",
            [webhook_id],
        )
        if not cursor.rowcount:
            return False
        destinations.enable(db, outbox.SUBSCRIBER_WEBHOOK, str(webhook_id))
    return True


def remove_webhook(db: Database, webhook_id: int, now: datetime) -> bool:
    with immediate(db):
        return _remove_webhook(db, webhook_id, now)


def _remove_webhook(db: Database, webhook_id: int, now: datetime) -> bool:
    cursor = db.execute(
        "UPDATE webhook_subscriptions SET status = 'removed' WHERE id = ? AND status != 'removed'",
        [webhook_id],
    )
    outbox.fail_pending_for(db, outbox.SUBSCRIBER_WEBHOOK, str(webhook_id), "subscription removed", now)
    return bool(cursor.rowcount)


def record_attempt(db: Database, keys: list[str], now: datetime) -> None:
    db.conn.executemany(
        "INSERT INTO subscribe_attempts (key, at) VALUES (?, ?)", [(key, to_iso(now)) for key in keys]
    )


def attempts_since(db: Database, key: str, since: datetime) -> int:
    row = db.execute(
        "SELECT COUNT(*) FROM subscribe_attempts WHERE key = ? AND at > ?", [key, to_iso(since)]
    ).fetchone()
    return int(row[0])


def subscriber_counts(db: Database) -> dict[str, int]:
    return {
        status: count
        for status, count in db.execute("SELECT status, COUNT(*) FROM subscribers GROUP BY status")
    }


def _confirm_columns(token: str) -> tuple[str, str]:
    if token.startswith(EMAIL_TOKEN):
        return "subscribers", "confirm"
    return "webhook_subscriptions", "verify"


@dataclass(frozen=True)
class EmailSubscriber:
    id: int
    email: str
    status: str
    components: list[str]
    created_at: str
    confirmed_at: str | None


def list_email_subscribers(db: Database, limit: int = 1000) -> list[EmailSubscriber]:
    """Email subscribers, newest first (for the admin UI/API)."""
    rows = db.execute(
        "SELECT id, email, status, components, created_at, confirmed_at FROM subscribers"
        " ORDER BY id DESC LIMIT ?",
        [limit],
    ).fetchall()
    return [EmailSubscriber(r[0], r[1], r[2], json.loads(r[3]), r[4], r[5]) for r in rows]


def unsubscribe_by_id(db: Database, subscriber_id: int, now: datetime) -> bool | None:
    """An operator ends an email subscription; None when there is no such subscriber."""
    row = db.execute("SELECT unsubscribe_token FROM subscribers WHERE id = ?", [subscriber_id]).fetchone()
    if row is None:
        return None
    return unsubscribe(db, str(row[0]), now)
