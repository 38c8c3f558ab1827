"""`responder_email`, `responder_apprise`, `responder_webhook`: pages and notices to one person.

The row's destination is `<responder>/<contact id>`; the address is looked up
when the row is sent, in `[[responders]]` or the responder's own edited
contacts (a contact removed since is a permanent failure). The message carries the signed action links of
`payload["actions"]` (acknowledge, resolve, open) and `payload["approvals"]`
(approve an automated action waiting for a person) in its text; a webhook gets
the whole payload, `actions` included, signed with the contact's secret, so a
chat bot can render buttons. Sending reuses the email, apprise and webhook kinds.
"""

from __future__ import annotations

import json
from typing import Any

from statuspage.notify.channels.apprise import AppriseChannel, AppriseMessage
from statuspage.notify.channels.base import ChannelKind, DeliveryContext
from statuspage.notify.channels.email import EmailChannel, Mail, _derived_id, mail_host
from statuspage.notify.channels.webhook import WebhookChannel, WebhookRequest
from statuspage.notify.delivery_error import DeliveryError
from statuspage.notify.outbox import OutboxRow
from statuspage.oncall.config import ContactConfig
from statuspage.oncall.service import responder as effective_responder
from statuspage.storage.sql import Store  # noqa: I001


def responder_contact(ctx: DeliveryContext, row: OutboxRow, kind: str, db: Store) -> ContactConfig:
    name, _, contact_id = row.destination.partition("/")
    responder = effective_responder(db, ctx.settings, name)
    contact = responder.contact(contact_id) if responder else None
    if contact is None:
        raise DeliveryError(f"no contact {row.destination!r} in [[responders]]", permanent=True)
    if contact.kind != kind:
        raise DeliveryError(f"contact {row.destination!r} is {contact.kind}, not {kind}", permanent=True)
    return contact


def page_text(row: OutboxRow, ctx: DeliveryContext) -> tuple[str, dict[str, Any]]:
    """The title and the template names of a page or notice."""
    payload = row.payload
    incident = payload.get("incident") if isinstance(payload.get("incident"), dict) else {}
    title = str(payload.get("title") or (incident or {}).get("title") or row.event)
    names = {
        "title": title,
        "body": str(payload.get("body") or payload.get("message") or title),
        "reason": payload.get("reason"),
        "actions": payload.get("actions") if isinstance(payload.get("actions"), dict) else None,
        "approvals": [a for a in payload.get("approvals") or [] if isinstance(a, dict)],
        "url": payload.get("url") or (incident or {}).get("url"),
    }
    return title, names


class ResponderEmail(ChannelKind):
    lane = "smtp"

    def prepare(self, row: OutboxRow, ctx: DeliveryContext, db: Store) -> Mail:
        contact = responder_contact(ctx, row, "email", db)
        title, names = page_text(row, ctx)
        text = ctx.renderer.render("responder.txt", **names).strip()
        html = ctx.renderer.render("responder.html", **names)
        to = [str(contact.to)]
        message = EmailChannel()._envelope(ctx, to, f"[{ctx.settings.page.name}] {title}", text, html)
        message["Message-ID"] = _derived_id(row, mail_host(ctx))
        return Mail(message, to)

    async def send(self, prepared: Mail, ctx: DeliveryContext) -> None:
        await EmailChannel().send(prepared, ctx)


class ResponderApprise(ChannelKind):
    lane = "apprise"

    def prepare(self, row: OutboxRow, ctx: DeliveryContext, db: Store) -> AppriseMessage:
        contact = responder_contact(ctx, row, "apprise", db)
        title, names = page_text(row, ctx)
        return AppriseMessage(str(contact.url), title, ctx.renderer.render("responder.txt", **names).strip())

    async def send(self, prepared: AppriseMessage, ctx: DeliveryContext) -> None:
        await AppriseChannel().send(prepared, ctx)


class ResponderWebhook(ChannelKind):
    lane = "http"

    def prepare(self, row: OutboxRow, ctx: DeliveryContext, db: Store) -> WebhookRequest:
        contact = responder_contact(ctx, row, "webhook", db)
        body = json.dumps({"type": row.event, **row.payload}, separators=(",", ":"), ensure_ascii=False)
        return WebhookRequest(str(contact.url), contact.secret, False, row.idempotency_key, body.encode())

    async def send(self, prepared: WebhookRequest, ctx: DeliveryContext) -> None:
        await WebhookChannel().send(prepared, ctx)
