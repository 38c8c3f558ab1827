"""WebSocket probe (aiohttp's client, over the agent's shared session): handshake on ws:// or
wss://, optionally send one text message, wait for a reply and judge it.

The reply (the first text or binary message) is `[BODY]`, so JSON replies take
paths: `[BODY].type == pong`. Metrics: `handshake_ms` (TCP, TLS and the HTTP
upgrade), `reply_ms` (send to reply), `total_ms`.
"""

from __future__ import annotations

import ssl
import time

import aiohttp

from agent.probes import Outcome, register
from agent.probes.context import ProbeContext
from agent.probes.http_exchange import ssl_context
from shared.checks import WebSocketCheck
from shared.conditions import Facts, failed_conditions

EXCERPT_CHARS = 512


@register("websocket")
async def probe_websocket(check: WebSocketCheck, context: ProbeContext) -> Outcome:
    """Up when the upgrade succeeds and a reply (when awaited) contains `expect` and the conditions hold."""
    try:
        tls: ssl.SSLContext | bool = (
            ssl_context(check.verify_tls, check.ca_file) if check.url.startswith("wss:") else True
        )
    except (OSError, ssl.SSLError) as error:
        return Outcome("down", f"cannot load ca_file {check.ca_file}: {error}")
    began = time.perf_counter()
    try:
        async with context.session.ws_connect(
            check.url,
            headers=check.headers,
            ssl=tls,
            max_msg_size=check.max_message_bytes,
            autoping=True,
        ) as ws:
            handshake_ms = (time.perf_counter() - began) * 1000
            metrics = {"handshake_ms": round(handshake_ms, 3)}
            reply: bytes | None = None
            if check.send is not None:
                await ws.send_str(check.send)
            if check.waits_for_reply:
                sent_at = time.perf_counter()
                reply_or_problem = await _reply(ws)
                if isinstance(reply_or_problem, str):
                    return Outcome("down", reply_or_problem, metrics)
                reply = reply_or_problem
                metrics["reply_ms"] = round((time.perf_counter() - sent_at) * 1000, 3)
    except aiohttp.WSServerHandshakeError as error:
        return Outcome("down", f"WebSocket upgrade refused: HTTP {error.status} {error.message}".strip())
    except aiohttp.ClientConnectorCertificateError as error:
        reason = getattr(error.certificate_error, "verify_message", None) or error.certificate_error
        return Outcome("down", f"TLS certificate error: {reason}")
    except aiohttp.ClientConnectorSSLError as error:
        return Outcome("down", f"TLS handshake failed: {error.os_error}")
    except aiohttp.ClientConnectorError as error:
        if isinstance(error.os_error, ConnectionRefusedError):
            return Outcome("down", f"connection refused ({error.host}:{error.port})")
        return Outcome("down", f"cannot connect to {error.host}:{error.port}: {error.os_error}")
    except aiohttp.ClientError as error:
        return Outcome("down", f"WebSocket error: {error or type(error).__name__}")
    metrics["total_ms"] = round((time.perf_counter() - began) * 1000, 3)
    detail: dict[str, str | int | bool | None] = {}
    if reply is not None:
        detail["reply_excerpt"] = reply[:EXCERPT_CHARS].decode("utf-8", "replace")
        if check.expect is not None and check.expect.encode() not in reply:
            shown = reply[:80].decode("utf-8", "replace")
            return Outcome("down", f"expected {check.expect!r} in the reply, got {shown!r}", metrics, detail)
    facts = Facts(body=reply, connected=True, response_time_ms=metrics["total_ms"])
    problems = failed_conditions(check.conditions, facts)
    if problems:
        return Outcome("down", "; ".join(problems), metrics, detail)
    return Outcome("up", None, metrics, detail)


async def _reply(ws: aiohttp.ClientWebSocketResponse) -> bytes | str:
    """The first data message's bytes, or a sentence saying why none came (the check's timeout
    bounds the wait)."""
    message = await ws.receive()
    if message.type == aiohttp.WSMsgType.TEXT:
        return str(message.data).encode()
    if message.type == aiohttp.WSMsgType.BINARY:
        return bytes(message.data)
    if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED):
        code = ws.close_code
        return f"the server closed the WebSocket before replying (close code {code})"
    if message.type == aiohttp.WSMsgType.ERROR:
        return f"WebSocket error before a reply: {ws.exception()}"
    return f"unexpected WebSocket message type {message.type.name}"
