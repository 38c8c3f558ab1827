"""Approval from the page: ask the people paged for an incident, and act on their signed link.

An order that waits for approval triggers its own page ("Approve restart-api
on web-1?") to every responder the incident has paged so far, through their
personal rules, because the incident's first page normally leaves before the
order exists (the worker escalates before it runs the rules, and `check_down`
rules and later attempts come minutes after). Every later page of the
incident (the next escalation level) also carries the approve links of the
orders still waiting. Requests still queued (a personal rule's delay) are
withdrawn once the order is decided.

`preview` checks a link for the confirmation page (GET; changes nothing).
`act` runs on POST in one write transaction: it claims the link's nonce
(a replay is refused) and approves through `service.approve`, the function
the admin UI and API use (timeline, audit log, kill switch). Any refusal
raises `oncall.links.LinkError` before anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.timeutil import to_iso
from statuspage.oncall import paging
from statuspage.oncall import service as oncall_service
from statuspage.oncall.links import LinkError
from statuspage.responses import links, service, text
from statuspage.settings import Settings
from statuspage.storage import incidents as incident_store
from statuspage.storage import oncall as oncall_store
from statuspage.storage import responses as store
from statuspage.storage import sql
from statuspage.storage.responses import Order
from statuspage.storage.sql import Store

EVENT = "response.approval"
VIA = "the page"


def paged_responders(db: Store, incident_id: int) -> list[str]:
    """Responders the incident has reached so far (a `paged` event with a contact), first paged first."""
    names: list[str] = []
    for event in incident_store.events_of(db, incident_id):
        name = event.data.get("responder")
        if event.kind == "paged" and isinstance(name, str) and name not in names:
            names.append(name)
    return names


def request_approval(db: Store, settings: Settings, order: Order, now: datetime) -> list[str]:
    """Page the incident's responders with the order's approve link; return who (and say so).

    Call inside `sql.write(db)`, right after the order was placed awaiting approval.
    """
    incident = incident_store.get_incident(db, order.incident_id)
    if incident is None:
        return []
    payload = _payload(settings, incident, order)
    asked = []
    for name in paged_responders(db, order.incident_id):
        responder = oncall_service.responder(db, settings, name)
        if responder is None:
            continue
        queued, _contacts = paging.page_responder(
            db,
            settings,
            responder,
            "you were paged for this incident",
            order.incident_id,
            payload,
            store.approval_page_key(order),
            now,
        )
        if queued:
            asked.append(name)
    service.note(db, order.incident_id, service.ENGINE, now, text.approval_requested(order, asked), order)
    return asked


@dataclass(frozen=True)
class ApprovalView:
    claim: links.ApprovalClaim
    order: Order
    incident: incident_store.Incident
    responder_label: str


def preview(db: Store, settings: Settings, token: str, now: datetime) -> ApprovalView:
    """The order and responder a link approves for; LinkError when it cannot act (nothing changes)."""
    claim = links.read_approval(oncall_store.signing_key(db), token, now)
    order = store.get_order(db, claim.order_id)
    incident = incident_store.get_incident(db, claim.incident_id)
    if order is None or incident is None or order.incident_id != claim.incident_id:
        raise LinkError(404, "The order this link is for no longer exists.")
    responder = oncall_service.find_responder(db, settings, claim.responder)
    if responder is None:
        raise LinkError(403, "This link's responder is no longer on call here.")
    used_at = oncall_store.link_used_at(db, claim.nonce)
    if used_at is not None:
        raise LinkError(409, f"This link was already used at {used_at:%Y-%m-%d %H:%M} UTC; nothing changed.")
    refusal = _refusal(db, settings, order, incident, now)
    if refusal is not None:
        raise refusal
    return ApprovalView(claim, order, incident, responder.label)


def act(db: Store, settings: Settings, token: str, client: str, now: datetime) -> ApprovalView:
    """Approve the link's order as its responder, once; return what was approved (LinkError: nothing)."""
    with sql.write(db):
        view = preview(db, settings, token, now)
        claim = view.claim
        if not oncall_store.claim_link(
            db, claim.nonce, claim.incident_id, claim.responder, links.ACTION, now, client
        ):
            raise LinkError(409, "This link was already used; nothing changed.")
        try:
            order = service.approve(
                db, settings, claim.order_id, f"user:{claim.responder}", client, now, via=VIA
            )
        except service.ResponseError as error:  # raced with another decision: the claim rolls back
            raise LinkError(409, f"{error}; nothing changed.") from None
    return ApprovalView(claim, order, view.incident, view.responder_label)


def _refusal(
    db: Store, settings: Settings, order: Order, incident: incident_store.Incident, now: datetime
) -> LinkError | None:
    if order.status == "expired" or (order.status == "awaiting_approval" and order.expires_at <= now):
        return LinkError(410, f"{text.expired(order)}. Nothing changed.")
    if order.status != "awaiting_approval":
        return LinkError(409, f"This order no longer waits for approval: {text.state(order)}.")
    if incident.status in incident_store.CLOSED_STATUSES:
        return LinkError(409, "This incident is already resolved; the action will not run.")
    if not service.active(db, settings):
        return LinkError(409, "Automated responses are switched off, so nothing would run; nothing changed.")
    return None


def _payload(settings: Settings, incident: incident_store.Incident, order: Order) -> dict[str, Any]:
    why = f"rule {order.rule_id}" if order.rule_id else f"asked by {order.requested_by}"
    return {
        "event": EVENT,
        "title": f"{links.label(order)}? Incident #{incident.id}: {incident.title}",
        "body": (
            f"{order.action_id} on {order.agent_name} waits for a person's approval ({why}),"
            f" until {order.expires_at:%H:%M} UTC. It runs only once someone approves it."
        ),
        "order": {
            "id": order.id,
            "action": order.action_id,
            "agent": order.agent_name,
            "rule": order.rule_id,
            "expires_at": to_iso(order.expires_at),
        },
        "incident": {
            "id": incident.id,
            "title": incident.title,
            "status": incident.status,
            "impact": incident.impact,
            "url": f"{settings.page.url}/incidents/{incident.id}",
        },
    }
