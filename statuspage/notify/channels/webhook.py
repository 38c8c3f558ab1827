"""`kind = "webhook"` channels and subscriber webhooks: a JSON POST signed per Standard Webhooks.

2xx is success. 410 Gone means the receiver wants no more: permanent, and the
destination is disabled at once (as the Standard Webhooks spec recommends).
Redirects are not followed (a redirect could lead anywhere, including the
private network); everything else is retried with backoff. Self-service
subscriptions go through the SSRF-guarded session (statuspage.netguard;
`security.outbound_allow` exempts networks); operator-registered ones and
channels are trusted.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import aiohttp

from statuspage import __version__
from statuspage.netguard import BlockedAddress
from statuspage.notify import outbox
from statuspage.notify.channels.base import ChannelKind, DeliveryContext, configured_channel
from statuspage.notify.delivery_error import DeliveryError
from statuspage.notify.outbox import OutboxRow
from statuspage.notify.signing import signed_headers
from statuspage.storage.sql import Store
from statuspage.storage.subscriptions import webhook_target

USER_AGENT = f"upwatch/{__version__} (+webhooks)"


@dataclass(frozen=True)
class WebhookRequest:
    url: str
    secret: str | None
    guarded: bool
    msg_id: str
    body: bytes


class WebhookChannel(ChannelKind):
    lane = "http"

    def prepare(self, row: OutboxRow, ctx: DeliveryContext, db: Store) -> WebhookRequest:
        payload = {"type": row.event, **row.payload}
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
        secret: str | None
        if row.destination_kind == outbox.SUBSCRIBER_WEBHOOK:
            url, secret, guarded = _subscription(db, row, ctx)
        else:
            channel = configured_channel(ctx, row, "webhook")
            url, secret, guarded = str(channel.url), channel.secret, False
        return WebhookRequest(url, secret, guarded, row.idempotency_key, body)

    async def send(self, prepared: WebhookRequest, ctx: DeliveryContext) -> None:
        # Wall-clock time, not the injected clock: receivers check it against theirs.
        headers = signed_headers(prepared.secret, prepared.msg_id, int(time.time()), prepared.body)
        headers.update({"content-type": "application/json", "user-agent": USER_AGENT})
        session = ctx.http_guarded if prepared.guarded else ctx.http
        limit_s = ctx.settings.notify.request_timeout_s
        try:
            async with session.post(
                prepared.url,
                data=prepared.body,
                headers=headers,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=limit_s),
            ) as response:
                status = response.status
        except TimeoutError:
            raise DeliveryError(f"no response within {limit_s:g}s") from None
        except aiohttp.ClientConnectorError as error:
            if isinstance(error.os_error, BlockedAddress):
                raise DeliveryError(str(error.os_error), permanent=True) from None
            raise DeliveryError(f"cannot connect: {error.os_error}") from None
        except aiohttp.ClientError as error:
            raise DeliveryError(f"request failed: {error!r}") from None
        if 200 <= status < 300:
            return
        if status == 410:
            raise DeliveryError("HTTP 410 Gone: the receiver asked to stop", disable=True)
        if 300 <= status < 400:
            raise DeliveryError(f"HTTP {status}: redirects are not followed")
        raise DeliveryError(f"HTTP {status}")


def _subscription(db: Store, row: OutboxRow, ctx: DeliveryContext) -> tuple[str, str, bool]:
    found = webhook_target(db, int(row.destination))
    if found is None:
        raise DeliveryError("the webhook subscription no longer exists", permanent=True)
    url, secret, origin, status = found
    allowed = ("active", "pending") if row.event == "subscription.verify" else ("active",)
    if status not in allowed:
        raise DeliveryError(f"the webhook subscription is {status}", permanent=True)
    return str(url), str(secret), origin == "self"
