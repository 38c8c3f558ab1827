"""The demo's mail sink: a real aiosmtpd server on loopback stores what it is sent; the admin
lists it under Subscribers and shows one message with its links."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from statuspage.mailsink import SinkHandler
from statuspage.settings import Settings
from statuspage.storage import demo_mail
from tests.adminkit import Operator
from tests.conftest import FrozenClock
from tests.helpers import free_port


def test_caught_mail_is_stored_and_shown(
    operator: Operator, settings: Settings, db: Any, clock: FrozenClock
) -> None:
    controller = Controller(SinkHandler(settings, clock), hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = "status@localhost", "bob@example.com", "Confirm"
        message.set_content("Confirm: https://status.test/subscribe/confirm/abc <b>not html</b>\n")
        with smtplib.SMTP("127.0.0.1", controller.port, timeout=10) as client:
            client.send_message(message)
    finally:
        controller.stop()
    [mail] = demo_mail.recent(db)
    assert (mail.recipients, mail.subject) == ("bob@example.com", "Confirm")
    listing = operator.client.get("/admin/subscribers").get_data(as_text=True)
    assert "Mail caught by the demo mail sink" in listing and f"/admin/mail/{mail.id}" in listing
    page = operator.client.get(f"/admin/mail/{mail.id}").get_data(as_text=True)
    assert '<a href="https://status.test/subscribe/confirm/abc">' in page
    assert "&lt;b&gt;not html&lt;/b&gt;" in page
    assert operator.client.get("/admin/mail/999").status_code == 404
