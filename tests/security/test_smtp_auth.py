"""Finding 8 (second half): SMTP AUTH over an unencrypted connection sent the relay password
in clear. It is refused, at config time and at connect time, unless
`smtp.allow_unencrypted_auth = true` says so explicitly. A real aiosmtpd relay."""

from __future__ import annotations

from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from statuspage.notify.config import SmtpConfig
from statuspage.notify.delivery_error import DeliveryError
from statuspage.notify.smtp import SmtpPool
from statuspage.settings import ConfigError, load_settings
from tests.helpers import free_port
from tests.statuspage.notify.servers import MailSink


class Logins:
    def __init__(self) -> None:
        self.seen: list[bytes] = []

    def __call__(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        self.seen.append(auth_data.password)
        return AuthResult(success=True)


@pytest.fixture
def plain_relay() -> Iterator[tuple[MailSink, Logins, int]]:
    """A relay without TLS that would accept AUTH in clear (as a misconfigured one does)."""
    sink, logins, port = MailSink(), Logins(), free_port()
    controller = Controller(
        sink, hostname="127.0.0.1", port=port, authenticator=logins, auth_require_tls=False
    )
    controller.start()
    try:
        yield sink, logins, port
    finally:
        controller.stop()


def message() -> EmailMessage:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = "status@localhost", "ops@example.com", "t"
    mail.set_content("t")
    return mail


def smtp(port: int, **fields: Any) -> dict[str, Any]:
    return {"host": "127.0.0.1", "port": port, "username": "status", "password": "s3cret", **fields}


def test_config_refuses_auth_without_encryption() -> None:
    with pytest.raises(ConfigError, match="smtp.allow_unencrypted_auth"):
        load_settings(environ={}, smtp=smtp(25, security="none"))
    # Without credentials nothing secret is sent: a plain local relay stays fine.
    assert load_settings(environ={}, smtp={"host": "127.0.0.1", "security": "none"}).smtp.host


def test_no_password_reaches_a_plain_relay(plain_relay: tuple[MailSink, Logins, int]) -> None:
    sink, logins, port = plain_relay
    # Past validation (e.g. a config built in code): the pool itself refuses before AUTH.
    unchecked = SmtpConfig(**smtp(port)).model_copy(update={"security": "none"})  # skips validation
    pool = SmtpPool(unchecked)
    with pytest.raises(DeliveryError, match="allow_unencrypted_auth"):
        pool.send(message(), ["ops@example.com"])
    # STARTTLS asked for, but the relay does not offer it: refused, never downgraded.
    pool = SmtpPool(SmtpConfig(**smtp(port, security="starttls")))
    with pytest.raises(DeliveryError):
        pool.send(message(), ["ops@example.com"])
    assert logins.seen == [] and sink.mails == []


def test_explicit_opt_in_allows_it(plain_relay: tuple[MailSink, Logins, int]) -> None:
    sink, logins, port = plain_relay
    pool = SmtpPool(SmtpConfig(**smtp(port, security="none", allow_unencrypted_auth=True)))
    pool.send(message(), ["ops@example.com"])
    pool.close()
    assert logins.seen == [b"s3cret"] and len(sink.mails) == 1
