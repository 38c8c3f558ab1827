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

from shared.timeutil import to_iso
from statuspage.notify import destinations, outbox
from statuspage.notify.outbox import NewNotification
from statuspage.notify.signing import new_secret
from statuspage.settings import Settings
from statuspage.storage import sql
from statuspage.storage import subscriptions as stored
from statuspage.storage.sql import Store

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
    db: Store, settings: Settings, email: str, components: list[str], now: datetime
) -> int:
    """Store a (re)subscription request and queue its confirmation mail; return the subscriber id.

    A confirmed subscriber stays subscribed until the new confirmation is used
    (which also applies the newly chosen components). The confirmation mail
    holds no text from the form: only the page's name, the link and the
    configured names of the chosen components.
    """
    token = new_token(EMAIL_TOKEN)
    expires = now + timedelta(seconds=settings.subscriptions.confirm_within_s)
    with sql.write(db):
        existing = stored.subscriber_id_by_email(db, email)
        if existing is None:
            subscriber_id = stored.insert_subscriber(
                db, email, json.dumps(components), hash_token(token), expires, new_token(EMAIL_TOKEN), now
            )
        else:
            subscriber_id = existing
            stored.renew_subscriber_request(
                db, subscriber_id, json.dumps(components), hash_token(token), expires
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


def confirmable(db: Store, token: str, now: datetime) -> bool:
    """True when the confirm token names a subscriber and has not expired."""
    return stored.confirm_token_known(db, token.startswith(EMAIL_TOKEN), hash_token(token), now)


def confirm(db: Store, token: str, now: datetime) -> bool:
    """Use a confirm (email) or verify (webhook) token; return False when unknown or expired."""
    if not confirmable(db, token, now):
        return False
    if token.startswith(EMAIL_TOKEN):
        stored.confirm_subscriber(db, hash_token(token), now)
    else:
        stored.verify_webhook(db, hash_token(token), now)
    return True


def unsubscribable(db: Store, token: str) -> bool:
    return stored.unsubscribe_token_known(db, token.startswith(EMAIL_TOKEN), token)


def unsubscribe(db: Store, token: str, now: datetime) -> bool:
    """End the subscription the token belongs to and drop what is queued for it.

    Idempotent: unsubscribing twice is fine. Returns False for an unknown token.
    """
    with sql.write(db):
        if token.startswith(EMAIL_TOKEN):
            email = stored.subscriber_email_by_unsubscribe_token(db, token)
            if email is None:
                return False
            stored.mark_unsubscribed(db, token, now)
            outbox.fail_pending_for(db, outbox.SUBSCRIBER_EMAIL, email, "unsubscribed", now)
            return True
        webhook_id = stored.webhook_id_by_unsubscribe_token(db, token)
        if webhook_id is None:
            return False
        _remove_webhook(db, webhook_id, now)
        return True


def create_webhook_subscription(
    db: Store,
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
    with sql.write(db):
        webhook_id = stored.insert_webhook(
            db,
            {
                "url": url,
                "secret": secret,
                "origin": origin,
                "status": "active" if origin == "operator" else "pending",
                "components": json.dumps(components),
                "description": description[:200],
                "verify_token_hash": None if origin == "operator" else hash_token(token),
                "verify_expires_at": None if origin == "operator" else to_iso(expires),
                "unsubscribe_token": unsubscribe_token,
                "created_at": to_iso(now),
                "verified_at": to_iso(now) if origin == "operator" else None,
            },
        )
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


def list_webhooks(db: Store, include_removed: bool = False) -> list[WebhookSubscription]:
    return [
        WebhookSubscription(
            r["id"],
            r["url"],
            r["origin"],
            r["status"],
            json.loads(r["components"]),
            r["description"],
            r["created_at"],
            r["disabled_reason"],
        )
        for r in stored.webhook_rows(db, include_removed)
    ]


def enable_webhook(db: Store, webhook_id: int) -> bool:
    """Operator action: a disabled webhook receives again; False when it was not disabled."""
    with sql.write(db):
        if not stored.activate_disabled_webhook(db, webhook_id):
            return False
        destinations.enable(db, outbox.SUBSCRIBER_WEBHOOK, str(webhook_id))
    return True


def remove_webhook(db: Store, webhook_id: int, now: datetime) -> bool:
    with sql.write(db):
        return _remove_webhook(db, webhook_id, now)


def _remove_webhook(db: Store, webhook_id: int, now: datetime) -> bool:
    removed = stored.mark_webhook_removed(db, webhook_id)
    outbox.fail_pending_for(db, outbox.SUBSCRIBER_WEBHOOK, str(webhook_id), "subscription removed", now)
    return removed


def record_attempt(db: Store, keys: list[str], now: datetime) -> None:
    stored.record_attempts(db, keys, now)


def attempts_since(db: Store, key: str, since: datetime) -> int:
    return stored.attempts_since(db, key, since)


def subscriber_counts(db: Store) -> dict[str, int]:
    return stored.counts_by_status(db)


@dataclass(frozen=True)
class EmailSubscriber:
    id: int
    email: str
    status: str
    components: list[str]
    created_at: str
    confirmed_at: str | None


def list_email_subscribers(db: Store, limit: int = 1000) -> list[EmailSubscriber]:
    """Email subscribers, newest first (for the admin UI/API)."""
    return [
        EmailSubscriber(
            r["id"], r["email"], r["status"], json.loads(r["components"]), r["created_at"], r["confirmed_at"]
        )
        for r in stored.subscriber_rows(db, limit)
    ]


def unsubscribe_by_id(db: Store, subscriber_id: int, now: datetime) -> bool | None:
    """An operator ends an email subscription; None when there is no such subscriber."""
    token = stored.unsubscribe_token_of(db, subscriber_id)
    if token is None:
        return None
    return unsubscribe(db, token, now)
