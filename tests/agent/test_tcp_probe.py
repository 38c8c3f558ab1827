"""The tcp probe against real loopback listeners and a closed port."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from agent.probes import run_check
from agent.probes.context import ProbeContext
from shared.checks import parse_check
from tests.agent.conftest import closed_port


def tcp_check(port: int, **fields: Any) -> Any:
    return parse_check(
        {
            "id": "t",
            "kind": "tcp",
            "host": "127.0.0.1",
            "port": port,
            "interval": "5s",
            "timeout": "1s",
            **fields,
        }
    )


@pytest.fixture
async def echo_port() -> AsyncIterator[int]:
    """A server that greets, then echoes one line in upper case."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"+OK ready\r\n")
        line = await reader.readline()
        writer.write(line.upper())
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


async def test_connect(echo_port: int, context: ProbeContext) -> None:
    result = await run_check(tcp_check(echo_port), context)
    assert result.status == "up"
    assert result.metrics["connect_ms"] > 0


async def test_closed_port_is_refused(context: ProbeContext) -> None:
    port = closed_port()
    result = await run_check(tcp_check(port), context)
    assert result.status == "down"
    assert result.error == f"connection refused (127.0.0.1:{port})"


async def test_closed_port_wanted(context: ProbeContext) -> None:
    result = await run_check(tcp_check(closed_port(), conditions=["[CONNECTED] == false"]), context)
    assert result.status == "up", result.error


async def test_send_then_expect(echo_port: int, context: ProbeContext) -> None:
    result = await run_check(tcp_check(echo_port, send="ping\n", expect="PING"), context)
    assert result.status == "up", result.error
    wrong = await run_check(tcp_check(echo_port, expect="220 "), context)
    assert wrong.status == "down"
    assert wrong.error == "expected '220 ' from the peer, got '+OK ready\\r\\n'"


async def test_silent_peer_times_out(context: ProbeContext) -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(10)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    try:
        port = server.sockets[0].getsockname()[1]
        check = parse_check(
            {"id": "t", "kind": "tcp", "host": "127.0.0.1", "port": port, "timeout": "200ms", "expect": "x"}
        )
        result = await run_check(check, context)
        assert result.error == "expected 'x' from the peer, got ''"
    finally:
        server.close()
