"""`kind = "email"` channels and subscriber mail: multipart text + HTML through `[smtp]`.

Threading: every mail about one incident carries the same root id, after the
way issue trackers do it. The first mail of an incident has
`Message-ID: <incident-ID@HOST>`; each later one has its own Message-ID and
`In-Reply-To` / `References` pointing at that root, so mail clients show one
thread per incident (maintenance likewise). Message-IDs derive from the
outbox row, so a resend after a crash carries the same id and clients
collapse the duplicate.

Subscriber mail carries `List-Unsubscribe` (the same link as in the body) and
`List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058), so providers
offer one-click unsubscribe. Header values are stripped of line breaks before
they are set: incident titles never inject headers.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from email.charset import BASE64, Charset
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr
from typing import Any
from urllib.parse import urlsplit

from markupsafe import escape

from statuspage.notify import outbox
from statuspage.notify.channels.base import ChannelKind, DeliveryContext, channel_text, configured_channel
from statuspage.notify.delivery_error import DeliveryError
from statuspage.notify.outbox import OutboxRow
from statuspage.storage.sql import Store  # noqa: I001

UNSUBSCRIBE_SLOT = "\x00unsubscribe-url\x00"  # no template output can contain NUL
# Stand-ins in a subscriber mail flattened once per fan-out (see _subscriber_copy): the
# per-copy values replace them. Header stand-ins are plain ASCII that no header can hold.
_TO_SLOT = "upwatch-to-slot@slot.invalid"
_DATE_SLOT = "upwatch-date-slot"
_UNSUBSCRIBE_HEADER_SLOT = "https://slot.invalid/upwatch-unsubscribe-slot"
_TEXT_SLOT = "upwatch-text-body-slot"
_HTML_SLOT = "upwatch-html-body-slot"


@dataclass(frozen=True)
class Mail:
    message: Message | str  # str: already flattened (subscriber copies, see _subscriber_copy)
    recipients: list[str]


def _utf8_base64() -> Charset:
    """utf-8 bodies in base64, whatever a library set as the process-wide utf-8 default
    (email.charset.add_charset), so flattened copies can swap bodies (_subscriber_copy)."""
    charset = Charset("utf-8")
    charset.body_encoding = BASE64
    return charset


def _base64_lines(text: str) -> str:
    """The body as MIMEText's utf-8 parts carry it: base64 in lines of 76."""
    return base64.encodebytes(text.encode()).decode("ascii").rstrip("\n")


def header_text(value: str, limit: int = 200) -> str:
    """One line, no control characters, bounded: safe as a header value."""
    cleaned = "".join(ch if ch.isprintable() else " " for ch in value)
    return " ".join(cleaned.split())[:limit]


def mail_host(ctx: DeliveryContext) -> str:
    return urlsplit(ctx.settings.page.url).hostname or "localhost"


def thread_ids(payload: dict[str, Any], host: str) -> tuple[str, str | None]:
    """(Message-ID, thread root or None when this mail is the root) for an incident/maintenance mail."""
    thread = payload["thread"]
    root = f"<{thread['kind']}-{thread['id']}@{host}>"
    if thread["first"]:
        return root, None
    return f"<{thread['kind']}-{thread['id']}.{thread['part']}@{host}>", root


class EmailChannel(ChannelKind):
    lane = "smtp"

    def prepare(self, row: OutboxRow, ctx: DeliveryContext, db: Store) -> Mail:
        if row.destination_kind == outbox.SUBSCRIBER_EMAIL:
            copy = self._subscriber_copy(row, ctx)
            return Mail(copy or self._subscriber_mail(row, ctx), [row.destination])
        channel = configured_channel(ctx, row, "email")
        title, body, url = channel_text(row, ctx)
        html = ctx.renderer.render("channel.html", title=title, body=body, url=url)
        message = self._envelope(ctx, channel.to, f"[{ctx.settings.page.name}] {title}", body, html)
        message["Message-ID"] = _derived_id(row, mail_host(ctx))
        return Mail(message, list(channel.to))

    async def send(self, prepared: Mail, ctx: DeliveryContext) -> None:
        await ctx.smtp.send_async(prepared.message, prepared.recipients)

    def _subscriber_copy(self, row: OutboxRow, ctx: DeliveryContext) -> str | None:
        """One subscriber's incident/maintenance mail as flattened text, or None (use the
        Message path: confirmations, non-ASCII addresses or links).

        Every copy of one update differs only in To, Date and the unsubscribe link, so the
        message is built and flattened once per fan-out with stand-ins, and each copy
        replaces them: building a MIME message per copy was over half of upwatch's CPU in
        bench/notify.py. The result is the same mail _subscriber_mail builds.
        """
        payload = row.payload
        unsubscribe = payload.get("meta", {}).get("unsubscribe", "")
        if row.event == "subscription.confirm" or not (row.destination + unsubscribe).isascii():
            return None
        if "incident" not in payload and "scheduled_maintenance" not in payload:
            return None
        thread = payload["thread"]
        key = ("email-copy", row.event, thread["kind"], thread["id"], thread["part"])
        flat: tuple[str, str, str] | None = ctx.cache.get(key)
        if flat is None:
            stand_in = OutboxRow(
                row.id, row.event, row.destination_kind, _TO_SLOT,
                {**payload, "meta": {**payload.get("meta", {}), "unsubscribe": _UNSUBSCRIBE_HEADER_SLOT}},
                row.idempotency_key, row.attempts, row.created_at,
            )  # fmt: skip
            message = self._subscriber_mail(stand_in, ctx, bodies=(_TEXT_SLOT, _HTML_SLOT))
            del message["Date"]
            message["Date"] = _DATE_SLOT
            text, html = self._bodies(ctx, row, *self._template_and_names(row, ctx))
            shape = message.as_string()
            shape = shape.replace(_base64_lines(_TEXT_SLOT), "\x00text\x00")
            shape = shape.replace(_base64_lines(_HTML_SLOT), "\x00html\x00")
            flat = (shape, text, html) if shape.isascii() else ("", "", "")
            ctx.cache[key] = flat
        template, text, html = flat
        if not template:
            return None
        return (
            template.replace(_TO_SLOT, row.destination)
            .replace(_DATE_SLOT, format_datetime(ctx.clock()))
            .replace(_UNSUBSCRIBE_HEADER_SLOT, unsubscribe)
            .replace("\x00text\x00", _base64_lines(text.replace(UNSUBSCRIBE_SLOT, unsubscribe)))
            .replace("\x00html\x00", _base64_lines(html.replace(UNSUBSCRIBE_SLOT, str(escape(unsubscribe)))))
        )

    def _template_and_names(self, row: OutboxRow, ctx: DeliveryContext) -> tuple[str, dict[str, Any]]:
        payload = row.payload
        page = ctx.settings.page
        if "incident" in payload:
            names = {
                "page": page,
                "incident": payload["incident"],
                "update": payload["incident"]["incident_updates"][-1],
            }
            return "email_incident", names
        return "email_maintenance", {"page": page, "maintenance": payload["scheduled_maintenance"]}

    def _subscriber_mail(
        self, row: OutboxRow, ctx: DeliveryContext, bodies: tuple[str, str] | None = None
    ) -> Message:
        payload = row.payload
        page = ctx.settings.page
        host = mail_host(ctx)
        if row.event == "subscription.confirm":
            names = {"page": page, **payload}
            message = self._envelope(
                ctx,
                [row.destination],
                f"[{page.name}] Confirm your subscription",
                ctx.renderer.render("email_confirm.txt", **names),
                ctx.renderer.render("email_confirm.html", **names),
            )
            message["Message-ID"] = _derived_id(row, host)
            return message
        if "incident" in payload:
            subject, template = payload["incident"]["name"], "email_incident"
            names = {
                "page": page,
                "incident": payload["incident"],
                "update": payload["incident"]["incident_updates"][-1],
            }
        elif "scheduled_maintenance" in payload:
            subject = f"Maintenance: {payload['scheduled_maintenance']['name']}"
            template = "email_maintenance"
            names = {"page": page, "maintenance": payload["scheduled_maintenance"]}
        else:
            raise DeliveryError(f"no mail template for event {row.event!r}", permanent=True)
        unsubscribe = payload["meta"]["unsubscribe"]
        if bodies is None:
            text, html = self._bodies(ctx, row, template, names)
            bodies = (
                text.replace(UNSUBSCRIBE_SLOT, unsubscribe),
                html.replace(UNSUBSCRIBE_SLOT, str(escape(unsubscribe))),
            )
        message = self._envelope(ctx, [row.destination], f"[{page.name}] {subject}", *bodies)
        message_id, root = thread_ids(payload, host)
        message["Message-ID"] = message_id
        if root is not None:
            message["In-Reply-To"] = root
            message["References"] = root
        message["List-Unsubscribe"] = f"<{unsubscribe}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        return message

    def _bodies(
        self, ctx: DeliveryContext, row: OutboxRow, template: str, names: dict[str, Any]
    ) -> tuple[str, str]:
        """Text and HTML of one incident update / maintenance change, rendered once per fan-out.

        Every subscriber's copy differs only in the unsubscribe link, so the
        templates render once with a slot that each copy fills in (rendering
        per copy was a third of the CPU in bench/notify.py).
        """
        thread = row.payload["thread"]
        key = ("email-bodies", template, row.event, thread["kind"], thread["id"], thread["part"])
        cached = ctx.cache.get(key)
        if cached is None:
            names = {**names, "unsubscribe_url": UNSUBSCRIBE_SLOT}
            cached = (
                ctx.renderer.render(f"{template}.txt", **names),
                ctx.renderer.render(f"{template}.html", **names),
            )
            if len(ctx.cache) >= 64:
                ctx.cache.clear()
            ctx.cache[key] = cached
        return cached

    def _envelope(self, ctx: DeliveryContext, to: list[str], subject: str, text: str, html: str) -> Message:
        # The legacy MIME classes, not EmailMessage: its header parsing cost ~3 ms per
        # mail, which capped a 10,000-subscriber fan-out at ~160 mails/s (bench/notify.py).
        # Every value set here is already one clean line (header_text, validated addresses).
        smtp = ctx.settings.smtp
        message = MIMEMultipart("alternative")
        message.attach(MIMEText(text, "plain", _utf8_base64()))  # type: ignore[arg-type]
        message.attach(MIMEText(html, "html", _utf8_base64()))  # type: ignore[arg-type]
        name = header_text(smtp.from_name or ctx.settings.page.name)
        message["From"] = formataddr((name, smtp.from_address), charset="utf-8")
        message["To"] = ", ".join(to)
        clean_subject = header_text(subject, 250)
        message["Subject"] = (
            clean_subject if clean_subject.isascii() else Header(clean_subject, "utf-8").encode()
        )
        message["Date"] = format_datetime(ctx.clock())
        message["Auto-Submitted"] = "auto-generated"
        return message


def _derived_id(row: OutboxRow, host: str) -> str:
    digest = hashlib.sha256(row.idempotency_key.encode()).hexdigest()[:32]
    return f"<{digest}@{host}>"
