"""The udp probe against a loopback UDP echo server, the websocket probe against aiohttp's
WebSocket server (ws:// and wss:// with the test PKI)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import WSMsgType, web
from pydantic import ValidationError

from agent.probes import run_check
from agent.probes.context import ProbeContext
from shared.checks import describe_error, parse_check
from tests.agent.conftest import ServeFn, closed_port
from tests.agent.tlsutil import Pki


class Echo(asyncio.DatagramProtocol):
    """Answers each datagram: `ping` with `pong`, `quiet` with nothing, anything else with itself."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        if data == b"quiet":
            return
        answer = b"pong" if data == b"ping" else data
        self.transport.sendto(answer, addr)  # type: ignore[attr-defined]


@pytest.fixture
async def udp_echo() -> AsyncIterator[int]:
    loop = asyncio.get_running_loop()
    transport, _protocol = await loop.create_datagram_endpoint(Echo, local_addr=("127.0.0.1", 0))
    yield int(transport.get_extra_info("sockname")[1])
    transport.close()


def udp(port: int, **fields: Any) -> Any:
    return parse_check({"id": "udp-check", "kind": "udp", "host": "127.0.0.1", "port": port, **fields})


async def test_udp_up_when_the_answer_holds_the_expected_bytes(context: ProbeContext, udp_echo: int) -> None:
    result = await run_check(
        udp(udp_echo, send="ping", expect="pong", conditions=["[BODY] == pong"]), context
    )
    assert (result.status, result.error) == ("up", None)
    assert result.detail["received_excerpt"] == "pong"
    assert "rtt_ms" in result.metrics
    binary = await run_check(udp(udp_echo, send_hex="00ff10", expect_hex="ff10"), context)
    assert (binary.status, binary.error) == ("up", None)
    assert binary.detail["received_hex"] == "00ff10"


async def test_udp_down_wrong_answer_no_answer_port_unreachable(context: ProbeContext, udp_echo: int) -> None:
    wrong = await run_check(udp(udp_echo, send="hello", expect="pong"), context)
    assert (wrong.status, wrong.error) == ("down", "expected 'pong' in the answer, got 'hello'")
    condition = await run_check(udp(udp_echo, send="hello", conditions=["[BODY] == pat(*pong*)"]), context)
    assert (condition.status, condition.error) == ("down", "[BODY]: expected pat(*pong*), got hello")
    silent = await run_check(udp(udp_echo, send="quiet", timeout="0.5s", interval="10s"), context)
    assert (silent.status, silent.error) == ("down", f"no answer from 127.0.0.1:{udp_echo} within 0.4s")
    port = closed_port()
    unreachable = await run_check(udp(port, send="ping"), context)
    assert (unreachable.status, unreachable.error) == (
        "down",
        f"port unreachable (127.0.0.1:{port} answered ICMP port unreachable)",
    )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "checks[0]: give send (text) or send_hex"),
        ({"send": "a", "send_hex": "00"}, "checks[0]: give send or send_hex, not both"),
        ({"send_hex": "0g"}, "checks[0].send_hex: String should match pattern"),
        ({"send": "a", "expect": "b", "expect_hex": "00"}, "checks[0]: give expect or expect_hex, not both"),
        ({"send": "a", "conditions": ["[STATUS] == 200"]}, "[STATUS] is not available here"),
        ({"send": "a", "port": 70000}, "checks[0].port: Input should be less than or equal to 65535"),
    ],
)
def test_bad_udp_config_names_the_key(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_check({"id": "u", "kind": "udp", "host": "dns.test", "port": 53, **fields})
    assert message in describe_error(caught.value, "checks[0]")


# ---------------------------------------------------------------------------- WebSocket


def ws_app() -> web.Application:
    """/echo echoes, /hello greets at once with JSON, /close closes, /private wants a token."""

    async def echo(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for message in ws:
            if message.type == WSMsgType.TEXT:
                await ws.send_str("pong" if message.data == "ping" else message.data)
        return ws

    async def hello(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_str(json.dumps({"type": "welcome", "version": 3}))
        await ws.receive()
        return ws

    async def close(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.close(code=1011, message=b"going away")
        return ws

    async def private(request: web.Request) -> web.StreamResponse:
        if request.headers.get("Authorization") != "Bearer t0k":
            raise web.HTTPForbidden()
        return await echo(request)

    async def silent(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.receive()
        return ws

    app = web.Application()
    app.add_routes(
        [
            web.get("/echo", echo),
            web.get("/hello", hello),
            web.get("/close", close),
            web.get("/private", private),
            web.get("/silent", silent),
        ]
    )
    return app


@pytest.fixture
async def ws_port(serve: ServeFn) -> int:
    return await serve(ws_app())


def websocket(url: str, **fields: Any) -> Any:
    return parse_check({"id": "ws-check", "kind": "websocket", "url": url, **fields})


async def test_websocket_up_with_message_and_reply(context: ProbeContext, ws_port: int) -> None:
    base = f"ws://127.0.0.1:{ws_port}"
    result = await run_check(websocket(f"{base}/echo", send="ping", expect="pong"), context)
    assert (result.status, result.error) == ("up", None)
    assert result.detail["reply_excerpt"] == "pong"
    assert {"handshake_ms", "reply_ms", "total_ms"} <= set(result.metrics)
    greeting = await run_check(
        websocket(f"{base}/hello", conditions=["[BODY].type == welcome", "[BODY].version >= 3"]), context
    )
    assert (greeting.status, greeting.error) == ("up", None)
    handshake_only = await run_check(websocket(f"{base}/silent"), context)
    assert (handshake_only.status, handshake_only.error) == ("up", None)
    authorized = websocket(
        f"{base}/private", headers={"Authorization": "Bearer t0k"}, send="ping", expect="pong"
    )
    assert (await run_check(authorized, context)).status == "up"


async def test_websocket_down_cases(context: ProbeContext, ws_port: int) -> None:
    base = f"ws://127.0.0.1:{ws_port}"
    wrong = await run_check(websocket(f"{base}/echo", send="hello", expect="pong"), context)
    assert (wrong.status, wrong.error) == ("down", "expected 'pong' in the reply, got 'hello'")
    condition = await run_check(websocket(f"{base}/hello", conditions=["[BODY].version > 3"]), context)
    assert (condition.status, condition.error) == ("down", "[BODY].version: expected > 3, got 3")
    closed = await run_check(websocket(f"{base}/close", expect="x"), context)
    assert (closed.status, closed.error) == (
        "down",
        "the server closed the WebSocket before replying (close code 1011)",
    )
    forbidden = await run_check(websocket(f"{base}/private"), context)
    assert (forbidden.status, forbidden.error) == (
        "down",
        "WebSocket upgrade refused: HTTP 403 Invalid response status",
    )
    not_ws = await run_check(websocket(f"{base}/nowhere"), context)
    assert not_ws.status == "down" and not_ws.error is not None and "HTTP 404" in not_ws.error
    silent = await run_check(websocket(f"{base}/silent", expect="x", timeout="0.5s", interval="10s"), context)
    assert (silent.status, silent.error) == ("down", "timed out after 0.5s")
    port = closed_port()
    refused = await run_check(websocket(f"ws://127.0.0.1:{port}/echo"), context)
    assert (refused.status, refused.error) == ("down", f"connection refused (127.0.0.1:{port})")


async def test_websocket_over_tls(context: ProbeContext, serve: ServeFn, pki: Pki) -> None:
    port = await serve(ws_app(), pki.server_context("valid"))
    url = f"wss://localhost:{port}/echo"
    trusted = await run_check(websocket(url, ca_file=str(pki.ca_file), send="ping", expect="pong"), context)
    assert (trusted.status, trusted.error) == ("up", None)
    untrusted = await run_check(websocket(url, send="ping"), context)
    assert untrusted.status == "down"
    assert untrusted.error is not None and untrusted.error.startswith("TLS certificate error: ")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"url": "http://x/"}, "checks[0].url: url must start with ws:// or wss://"),
        ({"url": "ws://x/", "conditions": ["[STATUS] == 101"]}, "[STATUS] is not available here"),
        ({"url": "ws://x/", "expect": ""}, "checks[0].expect: String should have at least 1 character"),
        (
            {"url": "ws://x/", "max_message_bytes": 1},
            "checks[0].max_message_bytes: Input should be greater than or equal to 1024",
        ),
    ],
)
def test_bad_websocket_config_names_the_key(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_check({"id": "w", "kind": "websocket", **fields})
    assert message in describe_error(caught.value, "checks[0]")
