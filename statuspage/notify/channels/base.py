"""What every channel kind implements, and the error that carries its retry decision."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from shared.timeutil import Clock
from statuspage.notify.delivery_error import DeliveryError
from statuspage.notify.outbox import OutboxRow
from statuspage.notify.templates import Renderer
from statuspage.settings import ChannelConfig, Settings
from statuspage.storage.sql import Store  # noqa: I001

if TYPE_CHECKING:
    import aiohttp

    from statuspage.notify.smtp import SmtpPool


@dataclass
class DeliveryContext:
    """Long-lived resources a delivery pass shares: one HTTP session per trust level, one SMTP pool."""

    settings: Settings
    renderer: Renderer
    clock: Clock
    http: aiohttp.ClientSession  # operator-registered destinations (trusted; may be private)
    http_guarded: aiohttp.ClientSession  # self-service webhooks: public addresses only
    smtp: SmtpPool
    cache: dict[tuple[str, ...], Any] = field(default_factory=dict)  # per-run memo for channels


class ChannelKind(ABC):
    """One kind of destination. `prepare` runs on the worker's database thread (it may read
    the database and renders the message); `send` does the network I/O and raises DeliveryError."""

    lane: ClassVar[str]  # which concurrency budget it uses: smtp, http, apprise, log

    @abstractmethod
    def prepare(self, row: OutboxRow, ctx: DeliveryContext, db: Store) -> Any: ...

    @abstractmethod
    async def send(self, prepared: Any, ctx: DeliveryContext) -> None: ...


def configured_channel(ctx: DeliveryContext, row: OutboxRow, kind: str) -> ChannelConfig:
    """The `[[channels]]` entry a channel row names; a permanent error if it is gone or changed kind."""
    channel = ctx.settings.channel(row.destination)
    if channel is None:
        raise DeliveryError(f"no channel {row.destination!r} in the configuration", permanent=True)
    if channel.kind != kind:
        raise DeliveryError(f"channel {row.destination!r} is a {channel.kind} channel, not {kind}", True)
    return channel


def channel_text(row: OutboxRow, ctx: DeliveryContext) -> tuple[str, str, str | None]:
    """Title, plain-text body and link for a channel message, from whatever payload shape it has:
    `title`/`body`/`url` (operator notices, `channel test`), the engine's escalation rows
    (`message` and an `incident` with `title` and `url`), or a subscriber-style incident."""
    payload = row.payload
    found = payload.get("incident")
    incident: dict[str, Any] = found if isinstance(found, dict) else {}
    title = str(payload.get("title") or incident.get("name") or incident.get("title") or row.event)
    text = payload.get("body") or payload.get("message")
    updates = incident.get("incident_updates")
    if text is None and isinstance(updates, list) and updates and isinstance(updates[-1], dict):
        text = updates[-1].get("body")
    url = payload.get("url") or incident.get("shortlink") or incident.get("url")
    body = ctx.renderer.render("channel.txt", title=title, body=str(text or title), url=url, event=row.event)
    return title, body.strip(), str(url) if url else None
