"""A local SMTP sink for the demo (`upwatch-statuspage mail-sink`): it accepts every message
on a loopback port and keeps it in the database, where the admin's Subscribers page shows
it. So `make run` can offer email subscriptions and show the confirmation mail without
sending anything anywhere. Never for production: it relays nothing and trusts everyone.

aiosmtpd (the `demo` extra) does the SMTP; each message is parsed with the standard
library's `email` package and stored through `storage.demo_mail`.
"""

from __future__ import annotations

import email
import logging
import signal
from collections.abc import Callable
from datetime import datetime
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

from statuspage.db import open_store_and_migrate
from statuspage.settings import Settings
from statuspage.storage import demo_mail, sql

log = logging.getLogger(__name__)


def text_of(message: EmailMessage) -> str:
    """The message's plain-text body (or its HTML when that is all there is)."""
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        return str(part.get_content())
    except (LookupError, UnicodeError):
        return part.get_payload(decode=True).decode("utf-8", "replace")  # type: ignore[union-attr]


class SinkHandler:
    """aiosmtpd handler: store every message, answer 250."""

    def __init__(self, settings: Settings, clock: Callable[[], datetime]):
        self.settings = settings
        self.clock = clock

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook name
        message = email.message_from_bytes(
            envelope.original_content or envelope.content, policy=default_policy
        )
        assert isinstance(message, EmailMessage)
        db = open_store_and_migrate(self.settings.database)
        try:
            recipients = [str(r) for r in envelope.rcpt_tos]
            subject = str(message.get("Subject", ""))
            mail_id = demo_mail.store(
                db, str(envelope.mail_from), recipients, subject, text_of(message), self.clock()
            )
        finally:
            sql.close(db)
        log.info("demo mail caught id=%s to=%s", mail_id, ",".join(envelope.rcpt_tos))
        return "250 Message accepted for delivery"


def serve(settings: Settings, host: str, port: int, clock: Callable[[], datetime]) -> None:
    """Run the sink until SIGTERM or SIGINT."""
    from aiosmtpd.controller import Controller

    # Block the stop signals before the SMTP thread starts (it inherits the mask), then wait
    # for one in this thread: no handler code runs in the middle of anything.
    stop_signals = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
    controller = Controller(SinkHandler(settings, clock), hostname=host, port=port)
    controller.start()
    log.info("demo mail sink listening host=%s port=%d", host, port)
    try:
        received = signal.sigwait(stop_signals)
        log.info("demo mail sink stopping signal=%s", signal.Signals(received).name)
    finally:
        controller.stop()
