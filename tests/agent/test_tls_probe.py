"""The tls probe against loopback TLS servers with certificates the test makes, and SMTP STARTTLS."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from agent.probes import run_check
from agent.probes.context import ProbeContext
from shared.checks import parse_check
from tests.agent.conftest import closed_port
from tests.agent.tlsutil import Pki

StartFn = Callable[..., Awaitable[int]]


@pytest.fixture
async def tls_server(pki: Pki) -> AsyncIterator[StartFn]:
    servers: list[asyncio.Server] = []

    async def start(kind: str, *, smtp: bool = False, offer_starttls: bool = True) -> int:
        context = pki.server_context(kind)

        async def plain(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                await reader.read(100)
            except (OSError, ssl.SSLError):
                pass
            writer.close()

        async def smtp_session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(b"220 mail.test ESMTP\r\n")
            await reader.readline()  # EHLO
            extensions = b"250-mail.test\r\n250-SIZE 1000\r\n" + (
                b"250 STARTTLS\r\n" if offer_starttls else b"250 8BITMIME\r\n"
            )
            writer.write(extensions)
            if offer_starttls and (await reader.readline()).startswith(b"STARTTLS"):
                writer.write(b"220 go ahead\r\n")
                await writer.drain()
                try:
                    await writer.start_tls(context)
                    await reader.read(100)
                except (OSError, ssl.SSLError):
                    pass
            writer.close()

        if smtp:
            server = await asyncio.start_server(smtp_session, "127.0.0.1", 0)
        else:
            server = await asyncio.start_server(plain, "127.0.0.1", 0, ssl=context)
        servers.append(server)
        return int(server.sockets[0].getsockname()[1])

    yield start
    for server in servers:
        server.close()


def tls_check(port: int, pki: Pki, **fields: Any) -> Any:
    data = {"id": "cert", "kind": "tls", "host": "127.0.0.1", "port": port, "server_name": "localhost"}
    return parse_check({**data, "ca_file": str(pki.ca_file), "timeout": "3s", **fields})


async def test_valid_certificate(tls_server: StartFn, pki: Pki, context: ProbeContext) -> None:
    result = await run_check(tls_check(await tls_server("valid"), pki), context)
    assert result.status == "up", result.error
    assert 89 < result.metrics["days_left"] <= 90
    assert result.detail["issuer"] == "CN=upwatch test CA"


async def test_expiring_soon_is_degraded(tls_server: StartFn, pki: Pki, context: ProbeContext) -> None:
    result = await run_check(tls_check(await tls_server("soon"), pki), context)
    assert result.status == "degraded"
    assert result.error is not None and result.error.startswith(
        "certificate expires in 5.0 days (min_days_left 14)"
    )


async def test_expired_certificate(tls_server: StartFn, pki: Pki, context: ProbeContext) -> None:
    result = await run_check(tls_check(await tls_server("expired"), pki), context)
    assert result.status == "down"
    assert result.error is not None and result.error.startswith("certificate expired 3 days ago")
    assert result.metrics["days_left"] < -3


async def test_wrong_host(tls_server: StartFn, pki: Pki, context: ProbeContext) -> None:
    result = await run_check(tls_check(await tls_server("wronghost"), pki), context)
    assert result.error == "certificate is for other.example, not localhost"


async def test_self_signed(tls_server: StartFn, pki: Pki, context: ProbeContext) -> None:
    result = await run_check(tls_check(await tls_server("selfsigned"), pki), context)
    assert result.error == "self-signed certificate (CN=localhost) is not trusted"


async def test_untrusted_chain(tls_server: StartFn, pki: Pki, context: ProbeContext) -> None:
    check = parse_check(
        {
            "id": "c",
            "kind": "tls",
            "host": "127.0.0.1",
            "port": await tls_server("valid"),
            "server_name": "localhost",
        }
    )
    result = await run_check(check, context)
    assert result.error == (
        "certificate chain not trusted: unable to get local issuer certificate (issuer CN=upwatch test CA)"
    )


async def test_condition_on_expiration(tls_server: StartFn, pki: Pki, context: ProbeContext) -> None:
    check = tls_check(await tls_server("valid"), pki, conditions=["[CERTIFICATE_EXPIRATION] > 100d"])
    result = await run_check(check, context)
    assert result.status == "down"
    assert result.error is not None and result.error.startswith(
        "[CERTIFICATE_EXPIRATION]: expected > 100d, got 8"
    )


async def test_smtp_starttls(tls_server: StartFn, pki: Pki, context: ProbeContext) -> None:
    result = await run_check(tls_check(await tls_server("valid", smtp=True), pki, starttls="smtp"), context)
    assert result.status == "up", result.error
    expired = await run_check(
        tls_check(await tls_server("expired", smtp=True), pki, starttls="smtp"), context
    )
    assert expired.error is not None and expired.error.startswith("certificate expired 3 days ago")
    refused = await run_check(
        tls_check(await tls_server("valid", smtp=True, offer_starttls=False), pki, starttls="smtp"), context
    )
    assert refused.error == "the SMTP server does not offer STARTTLS"


async def test_closed_port(pki: Pki, context: ProbeContext) -> None:
    port = closed_port()
    result = await run_check(tls_check(port, pki), context)
    assert result.error == f"connection refused (127.0.0.1:{port})"
