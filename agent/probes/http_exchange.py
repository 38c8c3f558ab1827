"""One HTTP request through the agent's shared session, timed and judged: the machinery
the http probe (`agent/probes/http.py`) and its suites (`http_suite.py`) share.

Timing breakdown, like blackbox_exporter's `probe_http_duration_seconds{phase}`:
`dns_ms` (resolve), `connect_ms` (TCP handshake), `tls_ms` (TLS handshake),
`first_byte_ms` (request start to response headers), `total_ms` (to the end of
the body read). DNS and connection times come from aiohttp's TraceConfig; the
TLS handshake is timed by the SSL object the handshake runs on, since aiohttp
reports TCP and TLS as one "connection create" step.
"""

from __future__ import annotations

import contextvars
import socket
import ssl
import time
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import aiohttp

from agent.probes import Outcome
from agent.probes.certs import read_certificate
from agent.probes.context import ProbeContext
from shared.checks import VARIABLE_RE, HttpCheck
from shared.conditions import Facts, failed_conditions

BODY_EXCERPT_CHARS = 512
READ_CHUNK_BYTES = 64 * 1024

# The timings of the request the current task is making; the SSL object reads it
# during the handshake (callbacks run in a copy of the task's context).
_TIMINGS: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("http_timings", default=None)


class _TimedSSLObject(ssl.SSLObject):
    """Records when the TLS handshake started and ended, and the peer certificate (DER)."""

    def do_handshake(self) -> None:
        timings = _TIMINGS.get()
        if timings is not None and timings.get("tls_object") is not self:
            timings["tls_object"] = self
            timings["tls_start"] = time.perf_counter()
        super().do_handshake()  # raises SSLWantReadError until the handshake is complete
        if timings is not None:
            timings["tls_end"] = time.perf_counter()
            timings["peer_cert"] = self.getpeercert(binary_form=True)


def recording_socket_factory(addr_info: Any) -> socket.socket:
    """The connector's socket factory: notes the address the current request connects to."""
    family, type_, proto, _name, address = addr_info
    timings = _TIMINGS.get()
    if timings is not None:
        timings["ip"] = str(address[0])
    return socket.socket(family=family, type=type_, proto=proto)


def _ssl_context(verify: bool, ca_file: str | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=ca_file)
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    context.sslobject_class = _TimedSSLObject
    return context


_SSL_CONTEXTS: dict[tuple[bool, str | None], ssl.SSLContext] = {}


def ssl_context(verify: bool, ca_file: str | None = None) -> ssl.SSLContext:
    """One context per (verify, CA file), built on first use (loading CA files costs time).

    Raises OSError/ssl.SSLError when the CA file cannot be read.
    """
    key = (verify, ca_file)
    if key not in _SSL_CONTEXTS:
        _SSL_CONTEXTS[key] = _ssl_context(verify, ca_file)
    return _SSL_CONTEXTS[key]


def timing_trace_config() -> aiohttp.TraceConfig:
    """A TraceConfig that writes phase times into the dict passed as `trace_request_ctx`."""
    trace = aiohttp.TraceConfig()

    def mark(key: str, *, first: bool = False) -> Any:
        async def handler(_session: aiohttp.ClientSession, context: SimpleNamespace, _params: Any) -> None:
            timings = context.trace_request_ctx
            if isinstance(timings, dict) and not (first and key in timings):
                timings[key] = time.perf_counter()

        return handler

    trace.on_request_start.append(mark("start", first=True))
    trace.on_dns_resolvehost_start.append(mark("dns_start"))
    trace.on_dns_resolvehost_end.append(mark("dns_end"))
    trace.on_connection_create_start.append(mark("connect_start"))
    trace.on_connection_create_end.append(mark("connect_end"))
    trace.on_request_end.append(mark("headers"))
    return trace


def substitute(text: str, values: dict[str, str]) -> str:
    """`text` with each `{name}` of a known value replaced; other braces stay as written."""
    return VARIABLE_RE.sub(lambda match: values.get(match.group(1), match.group(0)), text)


async def exchange(check: HttpCheck, context: ProbeContext) -> tuple[Outcome, Facts | None]:
    """One request judged: the outcome, and the facts it was judged on (None when no response came)."""
    assert check.url is not None  # a check without steps has a url (HttpCheck validates it)
    timings: dict[str, Any] = {"start": time.perf_counter()}
    token = _TIMINGS.set(timings)
    try:
        tls = ssl_context(check.verify_tls, check.ca_file) if check.url.startswith("https:") else True
    except (OSError, ssl.SSLError) as error:
        return Outcome("down", f"cannot load ca_file {check.ca_file}: {error}"), None
    try:
        async with context.session.request(
            check.method,
            check.url,
            headers=check.headers,
            data=check.body,
            allow_redirects=check.follow_redirects,
            max_redirects=check.max_redirects,
            ssl=tls,
            trace_request_ctx=timings,
        ) as response:
            timings.setdefault("headers", time.perf_counter())
            body, truncated = await _read_capped(response.content, check.max_body_bytes)
            status_code = response.status
            headers = dict(response.headers)
            redirects = len(response.history)
    except aiohttp.TooManyRedirects:
        return Outcome(
            "down", f"too many redirects (more than {check.max_redirects}; a redirect loop?)"
        ), None
    except aiohttp.ClientConnectorCertificateError as error:
        return Outcome("down", f"TLS certificate error: {_certificate_reason(error.certificate_error)}"), None
    except aiohttp.ClientConnectorSSLError as error:
        return Outcome("down", f"TLS handshake failed: {error.os_error}"), None
    except aiohttp.ClientConnectorError as error:
        return Outcome("down", _connect_message(error)), None
    except aiohttp.ClientPayloadError as error:
        return Outcome("down", f"response body broken off: {error}"), None
    except aiohttp.ClientError as error:
        return Outcome("down", f"HTTP error: {error}" if str(error) else type(error).__name__), None
    finally:
        _TIMINGS.reset(token)
    timings["end"] = time.perf_counter()
    ip = timings.get("ip")
    metrics = _phase_metrics(timings)
    metrics.update(
        {"status_code": float(status_code), "body_bytes": float(len(body)), "redirects": redirects}
    )
    cert_ms = _certificate_ms_left(timings.get("peer_cert"), context.clock())
    if cert_ms is not None:
        metrics["cert_expiry_days"] = round(cert_ms / 86_400_000, 3)
    detail: dict[str, str | int | bool | None] = {
        "status_code": status_code,
        "body_excerpt": body[:BODY_EXCERPT_CHARS].decode("utf-8", "replace"),
        "body_truncated": truncated,
        "ip": ip,
    }
    facts = Facts(
        status=status_code,
        response_time_ms=metrics["total_ms"],
        body=body,
        headers=headers,
        certificate_expiration_ms=cert_ms,
        connected=True,
        ip=ip,
    )
    problems = _judge(check, facts, body)
    if problems:
        return Outcome("down", "; ".join(problems), metrics, detail), facts
    return Outcome("up", None, metrics, detail), facts


def _judge(check: HttpCheck, facts: Facts, body: bytes) -> list[str]:
    problems: list[str] = []
    tests_status = any(condition.placeholder == "STATUS" for condition in check.conditions)
    if not tests_status and facts.status is not None and facts.status >= 400:
        problems.append(f"HTTP status {facts.status}")
    text = body.decode("utf-8", "replace")
    if check.keyword is not None and check.keyword not in text:
        problems.append(f"keyword {check.keyword!r} not found in the response body")
    if check.forbidden_keyword is not None and check.forbidden_keyword in text:
        problems.append(f"forbidden keyword {check.forbidden_keyword!r} found in the response body")
    problems += failed_conditions(check.conditions, facts)
    return problems


async def _read_capped(content: aiohttp.StreamReader, limit: int) -> tuple[bytes, bool]:
    """Read at most `limit` bytes; (body, True) when more was on offer and left unread."""
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        chunk = await content.read(min(READ_CHUNK_BYTES, limit + 1 - size))
        if not chunk:
            return b"".join(chunks), False
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)[:limit], True


def _phase_metrics(timings: dict[str, Any]) -> dict[str, float]:
    start = timings["start"]

    def span(begin: str, end: str) -> float:
        if begin in timings and end in timings:
            return round(max(0.0, timings[end] - timings[begin]) * 1000, 3)
        return 0.0

    metrics = {"dns_ms": span("dns_start", "dns_end"), "tls_ms": span("tls_start", "tls_end")}
    tcp_begin = "dns_end" if "dns_end" in timings else "connect_start"
    tcp_end = "tls_start" if "tls_start" in timings else "connect_end"
    metrics["connect_ms"] = span(tcp_begin, tcp_end)
    metrics["first_byte_ms"] = round((timings["headers"] - start) * 1000, 3)
    metrics["total_ms"] = round((timings["end"] - start) * 1000, 3)
    return metrics


def _certificate_ms_left(der: bytes | None, now: datetime) -> float | None:
    if not der:
        return None
    try:
        info = read_certificate(der)
    except ValueError:
        return None
    return info.seconds_left(now.astimezone(UTC)) * 1000


def _certificate_reason(error: Exception) -> str:
    message = getattr(error, "verify_message", None) or str(error)
    return str(message)


def _connect_message(error: aiohttp.ClientConnectorError) -> str:
    os_error = error.os_error
    if isinstance(os_error, ConnectionRefusedError):
        return f"connection refused ({error.host}:{error.port})"
    reason = getattr(os_error, "strerror", None) or str(os_error) or type(os_error).__name__
    return f"cannot connect to {error.host}:{error.port}: {reason}"
