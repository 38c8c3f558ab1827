"""SMTP security against a real aiosmtpd: STARTTLS with AUTH, implicit TLS, certificate
verification (a private CA via smtp.ca_file), and a refused login being temporary."""

from __future__ import annotations

import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from statuspage.db import open_store_and_migrate
from statuspage.notify import outbox
from statuspage.storage import sql
from tests.conftest import FrozenClock
from tests.helpers import free_port
from tests.statuspage.notify.conftest import run_delivery
from tests.statuspage.notify.servers import MailSink

pytestmark = pytest.mark.engines("sqlite", "postgresql")


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


def server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


class Logins:
    def __init__(self) -> None:
        self.seen: list[tuple[bytes, bool]] = []

    def __call__(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
            b"status",
            b"s3cret",
        )
        self.seen.append((auth_data.login, bool(session.ssl)))
        # handled=False: let aiosmtpd answer 535 itself (its default is to stay silent).
        return AuthResult(success=ok, handled=False)


@pytest.fixture
def starttls_server(certificate: tuple[Path, Path]) -> Iterator[tuple[MailSink, Logins, int]]:
    sink, logins, port = MailSink(), Logins(), free_port()
    controller = Controller(
        sink,
        hostname="127.0.0.1",
        port=port,
        tls_context=server_context(certificate),
        require_starttls=True,
        authenticator=logins,
        auth_required=True,
        auth_require_tls=True,
    )
    controller.start()
    yield sink, logins, port
    controller.stop()


def queue_mail(settings: Any, clock: FrozenClock) -> Any:
    db = open_store_and_migrate(settings.database)
    outbox.enqueue_channel_message(db, "mail", "email", "x", "k1", "Hello", "Body", clock())
    return db


def test_starttls_with_login_and_a_private_ca(
    notify_settings: Any,
    starttls_server: tuple[MailSink, Logins, int],
    certificate: tuple[Path, Path],
    clock: FrozenClock,
) -> None:
    sink, logins, port = starttls_server
    smtp = {
        "host": "127.0.0.1",
        "port": port,
        "security": "starttls",
        "username": "status",
        "password": "s3cret",
        "ca_file": str(certificate[0]),
    }
    settings = notify_settings(smtp=smtp, channels=[{"id": "mail", "kind": "email", "to": ["ops@ops.test"]}])
    db = queue_mail(settings, clock)
    assert run_delivery(settings, clock).delivered == 1
    assert sink.to("ops@ops.test")[0].message["Subject"] == "[Test Status] Hello"
    assert logins.seen == [(b"status", True)]  # logged in, and only over TLS
    sql.close(db)


def test_refused_login_and_unknown_ca_are_temporary(
    notify_settings: Any,
    starttls_server: tuple[MailSink, Logins, int],
    certificate: tuple[Path, Path],
    clock: FrozenClock,
) -> None:
    _sink, _logins, port = starttls_server
    channel = [{"id": "mail", "kind": "email", "to": ["ops@ops.test"]}]
    wrong = {
        "host": "127.0.0.1",
        "port": port,
        "security": "starttls",
        "username": "status",
        "password": "nope",
        "ca_file": str(certificate[0]),
    }
    settings = notify_settings(smtp=wrong, channels=channel)
    db = queue_mail(settings, clock)
    assert run_delivery(settings, clock).retried == 1
    assert "refused smtp.username/smtp.password" in sql.scalar(db, "SELECT last_error FROM outbox")
    sql.close(db)
    untrusted = notify_settings(smtp={**wrong, "password": "s3cret", "ca_file": None}, channels=channel)
    clock.advance(minutes=5)
    db = open_store_and_migrate(untrusted.database)
    assert run_delivery(untrusted, clock).retried == 1
    assert "CERTIFICATE_VERIFY_FAILED" in sql.scalar(db, "SELECT last_error FROM outbox")
    sql.close(db)


def test_implicit_tls(notify_settings: Any, certificate: tuple[Path, Path], clock: FrozenClock) -> None:
    sink, port = MailSink(), free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port, ssl_context=server_context(certificate))
    controller.start()
    try:
        smtp = {"host": "127.0.0.1", "port": port, "security": "tls", "ca_file": str(certificate[0])}
        settings = notify_settings(
            smtp=smtp, channels=[{"id": "mail", "kind": "email", "to": ["ops@ops.test"]}]
        )
        db = queue_mail(settings, clock)
        assert run_delivery(settings, clock).delivered == 1
        assert len(sink.to("ops@ops.test")) == 1
        sql.close(db)
    finally:
        controller.stop()
