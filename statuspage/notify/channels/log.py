"""`kind = "log"`: a line in the worker's log. Never fails; a fallback and a demo channel."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from statuspage.notify.channels.base import ChannelKind, DeliveryContext, channel_text, configured_channel
from statuspage.notify.outbox import OutboxRow
from statuspage.storage.sql import Store  # noqa: I001

log = logging.getLogger("upwatch.notifications")


@dataclass(frozen=True)
class LogLine:
    channel: str
    event: str
    title: str
    body: str


class LogChannel(ChannelKind):
    lane = "log"

    def prepare(self, row: OutboxRow, ctx: DeliveryContext, db: Store) -> LogLine:
        channel = configured_channel(ctx, row, "log")
        title, body, _url = channel_text(row, ctx)
        return LogLine(channel.id, row.event, title, body)

    async def send(self, prepared: LogLine, ctx: DeliveryContext) -> None:
        log.info(
            "notification channel=%s event=%s title=%r body=%r",
            prepared.channel,
            prepared.event,
            prepared.title,
            prepared.body,
        )
