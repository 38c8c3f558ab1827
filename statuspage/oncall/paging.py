"""Paging people: an escalation target becomes outbox rows for a responder's contact methods.

`schedule:<id>` is resolved to whoever is on call at the moment the level
fires; `user:<name>` is that responder. Each responder is reached through
their personal rules (contact, delay), verified contact methods only; a rule
whose delay has not passed when the incident is acknowledged or resolved is
cancelled (`storage.oncall.cancel_pending_pages`). Every page carries signed
acknowledge / resolve links and the admin link, in the text and, for
webhooks, as `actions` in the JSON; while an order of the incident waits for
approval, also its signed approve link (`approvals`, responses/links.py). Rows are written in the caller's
transaction; the worker delivers them.

Destination of a row: kind `responder_<email|apprise|webhook>`, destination
`<responder>/<contact id>`; the channel kinds in `notify/channels/responder.py`
look the address up in the configuration when they send.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from statuspage.oncall import links, service
from statuspage.oncall.config import ContactConfig, ResponderConfig
from statuspage.responses.links import approval_urls
from statuspage.settings import Settings
from statuspage.storage import oncall as store
from statuspage.storage.sql import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Page:
    """What one target of a level resolved to, for the incident timeline."""

    target: str
    responder: str | None
    reason: str
    contacts: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        if self.responder is None:
            return self.reason
        if not self.contacts:
            return f"could not page {self.responder} ({self.reason}): no verified contact method"
        return f"paged {self.responder} ({self.reason})"


def destination_kind(contact: ContactConfig) -> str:
    return f"responder_{contact.kind}"


def action_urls(
    db: Store, settings: Settings, incident_id: int, responder: str, now: datetime
) -> dict[str, str]:
    """Signed acknowledge / resolve links for this responder and incident, and the admin page."""
    key = store.signing_key(db)
    expires = now + settings.oncall.link_ttl
    base = settings.page.url
    urls = {
        action: f"{base}/oncall/act/{links.sign_action(key, incident_id, responder, action, expires)}"
        for action in links.ACTIONS
    }
    urls["open"] = f"{base}/admin/incidents/{incident_id}"
    return urls


def resolve_target(db: Store, settings: Settings, target: str, now: datetime) -> tuple[str | None, str]:
    """(responder or None, why): `schedule:` asks who is on call now, `user:` names the responder."""
    kind, _, name = target.partition(":")
    if kind == "user":
        known = service.find_responder(db, settings, name) is not None
        return (name, "paged directly") if known else (None, f"unknown responder {name}")
    schedule = service.find_schedule(db, settings, name)
    if schedule is None:
        return None, f"unknown schedule {name}"
    current = service.who(db, settings, name, now)
    if current.responder is None:
        return None, f"nobody on call for {schedule.label}"
    return current.responder, f"on call for {schedule.label}"


def page_target(
    db: Store,
    settings: Settings,
    target: str,
    incident_id: int,
    base_payload: dict[str, Any],
    key_prefix: str,
    now: datetime,
) -> tuple[Page, int]:
    """Resolve a `schedule:`/`user:` target and queue its pages; return (what happened, rows queued)."""
    name, reason = resolve_target(db, settings, target, now)
    responder = service.responder(db, settings, name) if name else None
    if responder is None:
        return Page(target, None, reason), 0
    queued, contacts = page_responder(
        db, settings, responder, reason, incident_id, base_payload, key_prefix, now
    )
    return Page(target, responder.name, reason, contacts), queued


def page_responder(
    db: Store,
    settings: Settings,
    responder: ResponderConfig,
    reason: str,
    incident_id: int,
    base_payload: dict[str, Any],
    key_prefix: str,
    now: datetime,
) -> tuple[int, list[str]]:
    """Queue one row per personal rule (verified contacts only); return (rows queued, contact ids)."""
    verified = service.verified_contact_ids(db, responder)
    payload = {
        **base_payload,
        "responder": responder.name,
        "reason": reason,
        "actions": action_urls(db, settings, incident_id, responder.name, now),
    }
    # Orders of the incident waiting for a person (issue 15): approve from the page too.
    approvals = approval_urls(db, settings, incident_id, responder.name, now)
    if approvals:
        payload["approvals"] = approvals
    queued, used = 0, []
    for index, rule in enumerate(responder.effective_rules()):
        contact = responder.contact(rule.contact)
        if contact is None or contact.id not in verified:
            continue
        used.append(contact.id)
        queued += store.enqueue_page(
            db,
            event=str(base_payload.get("event", "incident.opened")),
            destination_kind=destination_kind(contact),
            destination=f"{responder.name}/{contact.id}",
            payload=payload,
            idempotency_key=f"{key_prefix}:user:{responder.name}:{index}:{contact.id}",
            now=now,
            due_at=now + rule.after,
        )
    if not used:
        log.warning("responder has no verified contact method responder=%s", responder.name)
    return queued, used


def send_verification(
    db: Store, settings: Settings, responder_name: str, contact_id: str, now: datetime
) -> str:
    """Queue a verification link to a contact method; return the link (the CLI prints nothing secret)."""
    responder, contact = service.contact_of(db, settings, responder_name, contact_id)
    url = service.verify_link(db, settings, responder.name, contact, now)
    store.request_verification(db, responder.name, contact.id, contact.address, now)
    store.enqueue_page(
        db,
        event="oncall.verify",
        destination_kind=destination_kind(contact),
        destination=f"{responder.name}/{contact.id}",
        payload={
            "title": f"Confirm this contact method for {settings.page.name} on call",
            "body": (
                f"{responder.label}, open the link below and press Confirm to receive pages at this"
                f" {contact.kind} contact ({contact.id}). If you did not expect this, ignore it."
            ),
            "url": url,
        },
        idempotency_key=f"oncall:verify:{responder.name}:{contact.id}:{now.isoformat()}",
        now=now,
        due_at=now,
    )
    return url
