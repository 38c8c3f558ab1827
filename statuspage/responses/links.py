"""Signed one-click "approve <action> on <agent>" links, carried by the pages responders receive.

The same mechanism as issue 14's acknowledge / resolve links (`oncall.links`):
the token is the claim (order, incident, responder, expiry, nonce) signed with
itsdangerous under the key kept in the database (`storage.oncall.signing_key`),
with its own salt so an acknowledge token can never be read as an approval.
It binds the link to one order of one incident and one responder; the expiry
(the order's approval deadline, at most `oncall.link_ttl` away) is inside the
signed part; the nonce is claimed when the link acts, so a replay is refused.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer

from shared.timeutil import to_iso
from statuspage.oncall.links import LinkError
from statuspage.settings import Settings
from statuspage.storage import oncall as oncall_store
from statuspage.storage import responses as store
from statuspage.storage.responses import Order
from statuspage.storage.sql import Store

ACTION = "approve"  # what oncall_link_uses records for a claimed approval link
PATH = "/oncall/approve/"
_SALT = "upwatch.responses.approve"
_MAX_TOKEN = 1000


@dataclass(frozen=True)
class ApprovalClaim:
    order_id: int
    incident_id: int
    responder: str
    expires_at: datetime
    nonce: str


def sign_approval(key: str, order: Order, responder: str, expires_at: datetime) -> str:
    """A token that approves one order (of its incident) as one responder, valid until `expires_at`."""
    claim = {
        "o": order.id,
        "i": order.incident_id,
        "r": responder,
        "e": int(expires_at.timestamp()),
        "n": secrets.token_urlsafe(12),
    }
    return str(URLSafeSerializer(key, salt=_SALT).dumps(claim))


def read_approval(key: str, token: str, now: datetime) -> ApprovalClaim:
    """The claim of a valid, unexpired token; LinkError 400 (bad or tampered) or 410 (expired)."""
    if len(token) > _MAX_TOKEN:
        raise LinkError(400, "This link is not valid: it is too long.")
    try:
        data = URLSafeSerializer(key, salt=_SALT).loads(token)
    except BadSignature:
        raise LinkError(400, "This link is not valid: its signature does not match.") from None
    try:
        if not isinstance(data, dict) or not all(isinstance(data.get(k), int) for k in ("o", "i", "e")):
            raise ValueError("malformed")
        claim = ApprovalClaim(
            int(data["o"]),
            int(data["i"]),
            str(data["r"]),
            datetime.fromtimestamp(data["e"], UTC),
            str(data["n"]),
        )
    except (KeyError, TypeError, ValueError, OverflowError, OSError):
        raise LinkError(400, "This link is not valid: its content is malformed.") from None
    if now >= claim.expires_at:
        stamp = claim.expires_at.strftime("%Y-%m-%d %H:%M UTC")
        raise LinkError(
            410, f"This approval link expired at {stamp}. Use the incident's admin page if it still waits."
        )
    return claim


def label(order: Order) -> str:
    """'Approve restart-api on web-1': the words of the link and of the button."""
    return f"Approve {order.action_id} on {order.agent_name}"


def approval_urls(
    db: Store, settings: Settings, incident_id: int, responder: str, now: datetime
) -> list[dict[str, Any]]:
    """One signed approve link per order of the incident awaiting approval (none: an empty list)."""
    waiting = [
        o
        for o in store.orders_of_incident(db, incident_id)
        if o.status == "awaiting_approval" and o.expires_at > now
    ]
    if not waiting:
        return []
    key = oncall_store.signing_key(db)
    found = []
    for order in waiting:
        expires = min(order.expires_at, now + settings.oncall.link_ttl)
        token = sign_approval(key, order, responder, expires)
        found.append(
            {
                "order_id": order.id,
                "action": order.action_id,
                "agent": order.agent_name,
                "label": label(order),
                "url": f"{settings.page.url}{PATH}{token}",
                "expires_at": to_iso(expires),
            }
        )
    return found
