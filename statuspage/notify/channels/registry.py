"""The registry of channel kinds, keyed by the outbox row's `destination_kind`.

Adding a kind: one module under channels/ and one line here.
"""

from __future__ import annotations

from statuspage.notify import outbox
from statuspage.notify.channels.apprise import AppriseChannel
from statuspage.notify.channels.base import ChannelKind
from statuspage.notify.channels.email import EmailChannel
from statuspage.notify.channels.log import LogChannel
from statuspage.notify.channels.responder import ResponderApprise, ResponderEmail, ResponderWebhook
from statuspage.notify.channels.webhook import WebhookChannel

_EMAIL = EmailChannel()
_WEBHOOK = WebhookChannel()

KINDS: dict[str, ChannelKind] = {
    "log": LogChannel(),
    "apprise": AppriseChannel(),
    "email": _EMAIL,
    "webhook": _WEBHOOK,
    outbox.SUBSCRIBER_EMAIL: _EMAIL,
    outbox.SUBSCRIBER_WEBHOOK: _WEBHOOK,
    "responder_email": ResponderEmail(),
    "responder_apprise": ResponderApprise(),
    "responder_webhook": ResponderWebhook(),
}


def kinds_of_lane(lane: str) -> list[str]:
    return [name for name, kind in KINDS.items() if kind.lane == lane]
