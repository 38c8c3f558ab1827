"""Fixtures for probe tests: the agent's real session, a probe context, loopback servers."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from aiohttp import web

from agent.daemon import new_session
from agent.probes.context import ProbeContext
from tests.agent.tlsutil import Pki, make_pki
from tests.servers import Server, SnmpAgent, mariadb_server, postgresql_server, redis_server, snmpd_server

ServeFn = Callable[..., Awaitable[int]]


@pytest.fixture
async def context() -> AsyncIterator[ProbeContext]:
    async with new_session() as session:
        yield ProbeContext(session=session)


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
async def serve() -> AsyncIterator[ServeFn]:
    """Start an aiohttp app on 127.0.0.1 (optionally with TLS); return its port."""
    runners: list[web.AppRunner] = []

    async def start(app: web.Application, ssl_context: ssl.SSLContext | None = None) -> int:
        runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.1)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
        await site.start()
        runners.append(runner)
        server = site._server
        assert server is not None
        return int(server.sockets[0].getsockname()[1])  # type: ignore[union-attr]

    yield start
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
async def silent_port() -> AsyncIterator[int]:
    """A loopback port that accepts TCP and never says a word (a hung server)."""
    import asyncio

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# Throwaway database, cache and SNMP servers (tests/servers.py): each starts once per test
# session, on first use, and is shared by the probe tests and the `check` command test.


@pytest.fixture(scope="session")
def postgresql() -> Iterator[Server]:
    with postgresql_server() as server:
        yield server


@pytest.fixture(scope="session")
def mariadb() -> Iterator[Server]:
    with mariadb_server() as server:
        yield server


@pytest.fixture(scope="session")
def redis_db() -> Iterator[Server]:
    with redis_server() as server:
        yield server


@pytest.fixture(scope="session")
def snmpd() -> Iterator[SnmpAgent]:
    with snmpd_server() as agent:
        yield agent
