"""The smtp, imap and pop3 probes against real servers on loopback: aiosmtpd (STARTTLS and
implicit TLS, with the test PKI's certificates) and Debian's dovecot (IMAP and POP3)."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from pydantic import ValidationError

from agent.probes import run_check
from agent.probes.context import ProbeContext
from shared.checks import describe_error, parse_check
from tests.agent.conftest import closed_port
from tests.agent.loopback_servers import Dovecot, dovecot_server
from tests.agent.tlsutil import Pki, make_pki
from tests.helpers import free_port


class Sink:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "250 OK"


@pytest.fixture
def smtp_server(pki: Pki) -> Iterator[Callable[..., int]]:
    """Start aiosmtpd with a leaf of the test PKI: STARTTLS (default) or implicit TLS or none."""
    controllers: list[Controller] = []

    def start(leaf: str | None = "valid", *, implicit: bool = False) -> int:
        port = free_port()
        context = pki.server_context(leaf) if leaf else None
        options: dict[str, Any] = {"ident": "upwatch test ESMTP"}
        if implicit:
            options["ssl_context"] = context
        elif context is not None:
            options["tls_context"] = context
        controller = Controller(Sink(), hostname="127.0.0.1", port=port, **options)
        controller.start()
        controllers.append(controller)
        return port

    yield start
    for controller in controllers:
        controller.stop()


@pytest.fixture
async def line_server() -> AsyncIterator[Callable[[bytes | None], Awaitable[int]]]:
    """A TCP server that sends `greeting` (or nothing at all, ever) and then reads forever."""
    servers: list[asyncio.Server] = []

    async def start(greeting: bytes | None) -> int:
        async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            if greeting is not None:
                writer.write(greeting)
            await reader.read()
            writer.close()

        server = await asyncio.start_server(session, "127.0.0.1", 0)
        servers.append(server)
        return int(server.sockets[0].getsockname()[1])

    yield start
    for server in servers:
        server.close()


@pytest.fixture(scope="module")
def dovecot_pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("dovecot-pki"))


@pytest.fixture(scope="module")
def dovecot(dovecot_pki: Pki) -> Iterator[Dovecot]:
    """One dovecot for the module (it starts in about a second)."""
    if not (shutil.which("dovecot") or shutil.which("/usr/sbin/dovecot")):
        pytest.skip(
            "dovecot is not installed (scripts/test-setup.sh installs dovecot-imapd and dovecot-pop3d)"
        )
    with dovecot_server(dovecot_pki.directory / "valid.pem", dovecot_pki.directory / "valid.key") as ports:
        yield ports


@pytest.fixture(scope="module")
def dovecot_ca(dovecot_pki: Pki) -> str:
    return str(dovecot_pki.ca_file)


def mail(kind: str, port: int, **fields: Any) -> Any:
    return parse_check({"id": f"{kind}-check", "kind": kind, "host": "127.0.0.1", "port": port, **fields})


# ---------------------------------------------------------------------------- SMTP (aiosmtpd)


async def test_smtp_starttls_with_a_trusted_certificate(
    context: ProbeContext, smtp_server: Callable[..., int], pki: Pki
) -> None:
    port = smtp_server("valid")
    check = mail("smtp", port, ca_file=str(pki.ca_file), conditions=["[BANNER] == pat(*upwatch test ESMTP*)"])
    result = await run_check(check, context)
    assert (result.status, result.error) == ("up", None)
    assert "upwatch test ESMTP" in str(result.detail["banner"])
    assert "8BITMIME" in str(result.detail["capabilities"])
    assert 88 < result.metrics["days_left"] < 91
    assert result.detail["tls_version"] in ("TLSv1.2", "TLSv1.3")


async def test_smtp_implicit_tls(context: ProbeContext, smtp_server: Callable[..., int], pki: Pki) -> None:
    port = smtp_server("valid", implicit=True)
    result = await run_check(mail("smtp", port, tls="implicit", ca_file=str(pki.ca_file)), context)
    assert (result.status, result.error) == ("up", None)
    assert "tls_ms" in result.metrics


@pytest.mark.parametrize(
    ("leaf", "fields", "error"),
    [
        ("expired", {}, "certificate expired 3 days ago"),
        ("wronghost", {}, "certificate is for other.example, not 127.0.0.1"),
        ("valid", {"ca_file": None}, "certificate chain not trusted"),
        (
            "valid",
            {"conditions": ["[CERTIFICATE_EXPIRATION] > 100d"]},
            "[CERTIFICATE_EXPIRATION]: expected > 100d, got 89d",
        ),
        ("valid", {"conditions": ["[BANNER] == pat(*Postfix*)"]}, "[BANNER]: expected pat(*Postfix*), got"),
        (
            "valid",
            {"conditions": ["[CAPABILITIES] == pat(*CHUNKING*)"]},
            "[CAPABILITIES]: expected pat(*CHUNKING*), got SIZE ",
        ),
    ],
)
async def test_smtp_certificate_and_condition_failures_say_what_is_wrong(
    context: ProbeContext,
    smtp_server: Callable[..., int],
    pki: Pki,
    leaf: str,
    fields: dict[str, Any],
    error: str,
) -> None:
    port = smtp_server(leaf)
    result = await run_check(mail("smtp", port, **{"ca_file": str(pki.ca_file), **fields}), context)
    assert result.status == "down"
    assert result.error is not None and result.error.startswith(error), result.error


async def test_smtp_expiring_certificate_is_degraded(
    context: ProbeContext, smtp_server: Callable[..., int], pki: Pki
) -> None:
    result = await run_check(mail("smtp", smtp_server("soon"), ca_file=str(pki.ca_file)), context)
    assert result.status == "degraded"
    assert result.error is not None and result.error.startswith("certificate expires in ")
    assert 4.9 < result.metrics["days_left"] <= 5


async def test_smtp_without_starttls(context: ProbeContext, smtp_server: Callable[..., int]) -> None:
    port = smtp_server(None)
    result = await run_check(mail("smtp", port), context)
    assert result.status == "down"
    assert result.error == 'the server does not offer STARTTLS (tls = "starttls"; use "none" to skip TLS)'
    plain = await run_check(mail("smtp", port, tls="none"), context)
    assert (plain.status, plain.error) == ("up", None)
    assert "days_left" not in plain.metrics


async def test_smtp_down_when_refused_rude_or_silent(
    context: ProbeContext, line_server: Callable[[bytes | None], Awaitable[int]]
) -> None:
    port = closed_port()
    refused = await run_check(mail("smtp", port), context)
    assert (refused.status, refused.error) == ("down", f"connection refused (127.0.0.1:{port})")
    rude = await run_check(mail("smtp", await line_server(b"554 5.3.2 go away\r\n")), context)
    assert (rude.status, rude.error) == ("down", "SMTP greeting was 554, expected 220: 5.3.2 go away")
    not_smtp = await run_check(mail("smtp", await line_server(b"SSH-2.0-OpenSSH_9.2\r\n")), context)
    assert (not_smtp.status, not_smtp.error) == ("down", "not an SMTP reply: 'SSH-2.0-OpenSSH_9.2'")
    silent = mail("smtp", await line_server(None), timeout="0.3s", interval="10s")
    timed_out = await run_check(silent, context)
    assert (timed_out.status, timed_out.error) == ("down", "timed out after 0.3s")


# ---------------------------------------------------------------------------- IMAP and POP3 (dovecot)


@pytest.mark.parametrize(
    ("kind", "port_of", "tls", "capability"),
    [
        ("imap", "imap", "starttls", "IMAP4REV1"),
        ("imap", "imaps", "implicit", "IMAP4REV1"),
        ("pop3", "pop3", "starttls", "UIDL"),
        ("pop3", "pop3s", "implicit", "UIDL"),
    ],
)
async def test_dovecot_imap_and_pop3_up(
    context: ProbeContext,
    dovecot: Dovecot,
    dovecot_ca: str,
    kind: str,
    port_of: str,
    tls: str,
    capability: str,
) -> None:
    check = mail(
        kind,
        getattr(dovecot, port_of),
        tls=tls,
        ca_file=dovecot_ca,
        conditions=[
            "[BANNER] == pat(*upwatch test dovecot ready.*)",
            f"[CAPABILITIES] == pat(*{capability}*)",
        ],
    )
    result = await run_check(check, context)
    assert (result.status, result.error) == ("up", None)
    assert 88 < result.metrics["days_left"] < 91


async def test_dovecot_failures_name_the_value(
    context: ProbeContext, dovecot: Dovecot, dovecot_ca: str
) -> None:
    untrusted = await run_check(mail("imap", dovecot.imap), context)
    assert untrusted.status == "down"
    assert untrusted.error is not None and untrusted.error.startswith("certificate chain not trusted")
    wanted = mail(
        "imap", dovecot.imap, ca_file=dovecot_ca, conditions=["[CAPABILITIES] == pat(*XAPPLEPUSHSERVICE*)"]
    )
    missing = await run_check(wanted, context)
    assert missing.status == "down"
    assert missing.error is not None and missing.error.startswith(
        "[CAPABILITIES]: expected pat(*XAPPLEPUSHSERVICE*), got IMAP4REV1 "
    )
    plain = await run_check(mail("pop3", dovecot.pop3, tls="none", conditions=["[BANNER] == Hello"]), context)
    assert (plain.status, plain.error) == (
        "down",
        "[BANNER]: expected Hello, got upwatch test dovecot ready.",
    )
    wrong_protocol = await run_check(mail("pop3", dovecot.imap, tls="none"), context)
    assert wrong_protocol.status == "down"
    assert wrong_protocol.error is not None and wrong_protocol.error.startswith(
        "POP3 greeting was not +OK: '* OK "
    )
    imap_on_pop3 = await run_check(mail("imap", dovecot.pop3, tls="none"), context)
    assert imap_on_pop3.status == "down"
    assert imap_on_pop3.error is not None and imap_on_pop3.error.startswith("IMAP greeting was not OK: '+OK")


async def test_imap_bye_greeting_and_refused(
    context: ProbeContext, line_server: Callable[[bytes | None], Awaitable[int]]
) -> None:
    busy = await run_check(mail("imap", await line_server(b"* BYE too many connections\r\n")), context)
    assert (busy.status, busy.error) == ("down", "IMAP greeting was not OK: '* BYE too many connections'")
    port = closed_port()
    refused = await run_check(mail("pop3", port, tls="implicit"), context)
    assert (refused.status, refused.error) == ("down", f"connection refused (127.0.0.1:{port})")
    shut = mail("imap", port, conditions=["[CONNECTED] == false"])
    assert (await run_check(shut, context)).status == "up"


# ---------------------------------------------------------------------------- configuration


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"kind": "smtp", "tls": "maybe"}, "checks[0].tls: Input should be 'starttls', 'implicit' or 'none'"),
        ({"kind": "imap", "port": 0}, "checks[0].port: Input should be greater than or equal to 1"),
        ({"kind": "pop3", "conditions": ["[STATUS] == 200"]}, "[STATUS] is not available here"),
        (
            {"kind": "smtp", "tls": "none", "conditions": ["[CERTIFICATE_EXPIRATION] > 7d"]},
            'checks[0]: conditions: [CERTIFICATE_EXPIRATION] needs tls = "starttls" or "implicit"',
        ),
        ({"kind": "smtp", "helo_name": "bad name"}, "checks[0].helo_name: String should match pattern"),
        ({"kind": "imap", "host": ""}, "checks[0].host: String should have at least 1 character"),
    ],
)
def test_bad_mail_config_names_the_key(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_check({"id": "m", "host": "mail.test", **fields})
    assert message in describe_error(caught.value, "checks[0]")


@pytest.mark.parametrize(
    ("kind", "tls", "port"),
    [
        ("smtp", "starttls", 25),
        ("smtp", "implicit", 465),
        ("imap", "starttls", 143),
        ("imap", "implicit", 993),
        ("pop3", "none", 110),
        ("pop3", "implicit", 995),
    ],
)
def test_default_ports(kind: str, tls: str, port: int) -> None:
    assert parse_check({"id": "m", "kind": kind, "host": "mail.test", "tls": tls}).effective_port == port
