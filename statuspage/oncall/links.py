"""Signed links: one-click acknowledge/resolve from a page, contact verification, secret ICS feeds.

A link's token is the claim (incident, responder, action, expiry, nonce)
signed with itsdangerous under the key kept in the database
(`storage.oncall.signing_key`). The token binds the link to one incident and
one responder; the expiry is inside the signed part, checked against the
injected clock; the nonce is claimed when the link acts, so a second POST of
the same link is refused (a replay). Mail scanners prefetch GET links, so a
GET only shows a confirmation form; the POST acts.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer

ACTIONS = ("acknowledge", "resolve")
_ACTION_SALT = "upwatch.oncall.action"
_VERIFY_SALT = "upwatch.oncall.verify"


class LinkError(Exception):
    """A link that cannot act: `status` is the HTTP status to answer with, str() says why."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class ActionClaim:
    incident_id: int
    responder: str
    action: str
    expires_at: datetime
    nonce: str


@dataclass(frozen=True)
class VerificationClaim:
    responder: str
    contact_id: str
    address_hash: str
    expires_at: datetime


def sign_action(key: str, incident_id: int, responder: str, action: str, expires_at: datetime) -> str:
    """A token for one action on one incident by one responder, valid until `expires_at`."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    claim = {
        "i": incident_id,
        "r": responder,
        "a": action,
        "e": int(expires_at.timestamp()),
        "n": secrets.token_urlsafe(12),
    }
    return str(URLSafeSerializer(key, salt=_ACTION_SALT).dumps(claim))


def read_action(key: str, token: str, now: datetime) -> ActionClaim:
    """The claim of a valid, unexpired token; LinkError(400) for a bad signature, 410 when expired."""
    data = _load(key, token, _ACTION_SALT)
    try:
        claim = ActionClaim(
            int(data["i"]), str(data["r"]), str(data["a"]), _instant(data["e"]), str(data["n"])
        )
    except (KeyError, TypeError, ValueError):
        raise LinkError(400, "This link is not valid: its content is malformed.") from None
    if claim.action not in ACTIONS:
        raise LinkError(400, "This link is not valid: unknown action.")
    _unexpired(claim.expires_at, now)
    return claim


def sign_verification(key: str, responder: str, contact_id: str, hashed: str, expires_at: datetime) -> str:
    claim = {"r": responder, "c": contact_id, "h": hashed, "e": int(expires_at.timestamp())}
    return str(URLSafeSerializer(key, salt=_VERIFY_SALT).dumps(claim))


def read_verification(key: str, token: str, now: datetime) -> VerificationClaim:
    data = _load(key, token, _VERIFY_SALT)
    try:
        claim = VerificationClaim(str(data["r"]), str(data["c"]), str(data["h"]), _instant(data["e"]))
    except (KeyError, TypeError, ValueError):
        raise LinkError(400, "This link is not valid: its content is malformed.") from None
    _unexpired(claim.expires_at, now)
    return claim


def feed_secret(key: str, kind: str, name: str) -> str:
    """The secret part of a schedule's or responder's ICS feed URL (stable while the key is)."""
    return hmac.new(key.encode(), f"ics:{kind}:{name}".encode(), hashlib.sha256).hexdigest()[:40]


def feed_secret_valid(key: str, kind: str, name: str, given: str) -> bool:
    return hmac.compare_digest(feed_secret(key, kind, name).encode(), given.encode())


def _load(key: str, token: str, salt: str) -> dict[str, Any]:
    if len(token) > 1000:
        raise LinkError(400, "This link is not valid: it is too long.")
    try:
        data = URLSafeSerializer(key, salt=salt).loads(token)
    except BadSignature:
        raise LinkError(400, "This link is not valid: its signature does not match.") from None
    if not isinstance(data, dict):
        raise LinkError(400, "This link is not valid: its content is malformed.")
    return data


def _instant(value: Any) -> datetime:
    if not isinstance(value, int):
        raise ValueError("expiry must be a number")
    return datetime.fromtimestamp(value, UTC)


def _unexpired(expires_at: datetime, now: datetime) -> None:
    if now >= expires_at:
        stamp = expires_at.strftime("%Y-%m-%d %H:%M UTC")
        raise LinkError(
            410, f"This link expired at {stamp}. Use the admin page, or the link in a newer page."
        )
