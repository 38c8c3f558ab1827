"""`kind = "apprise"`: team channels (Slack, Teams, Discord, Telegram, PagerDuty, Opsgenie ...)
through apprise URLs, instead of hand-written clients.

apprise is synchronous, so a send runs in a thread; apprise's own socket
timeouts (URL parameters `cto`/`rto`) bound it, and the worker stops waiting
after `notify.request_timeout_s` plus a margin.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import apprise

from statuspage.notify.channels.base import ChannelKind, DeliveryContext, channel_text, configured_channel
from statuspage.notify.delivery_error import DeliveryError
from statuspage.notify.outbox import OutboxRow
from statuspage.storage.sql import Store  # noqa: I001


@dataclass(frozen=True)
class AppriseMessage:
    url: str
    title: str
    body: str


def _notify(message: AppriseMessage) -> None:
    client = apprise.Apprise()
    if not client.add(message.url):
        raise DeliveryError("apprise does not understand this channel's url", permanent=True)
    ok = client.notify(title=message.title, body=message.body, body_format=apprise.NotifyFormat.TEXT)
    if not ok:
        raise DeliveryError("apprise could not deliver (its reason is in the worker log)")


class AppriseChannel(ChannelKind):
    lane = "apprise"

    def prepare(self, row: OutboxRow, ctx: DeliveryContext, db: Store) -> AppriseMessage:
        channel = configured_channel(ctx, row, "apprise")
        title, body, _url = channel_text(row, ctx)
        return AppriseMessage(str(channel.url), title, body)

    async def send(self, prepared: AppriseMessage, ctx: DeliveryContext) -> None:
        limit_s = ctx.settings.notify.request_timeout_s + 5
        try:
            await asyncio.wait_for(asyncio.to_thread(_notify, prepared), timeout=limit_s)
        except TimeoutError:
            raise DeliveryError(f"apprise did not finish within {limit_s:.0f}s") from None
