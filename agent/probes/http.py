"""HTTP(S) probe: one request through the agent's shared session; up when status < 400."""

from __future__ import annotations

import ssl
import time

import aiohttp

from agent.probes import Outcome, register
from agent.probes.context import ProbeContext
from shared.checks import HttpCheck

BODY_EXCERPT_BYTES = 512


@register("http")
async def probe_http(check: HttpCheck, context: ProbeContext) -> Outcome:
    """Send the request; a status >= 400, a refused connection or a TLS error is `down`."""
    began = time.perf_counter()
    ssl_option: ssl.SSLContext | bool = True if check.verify_tls else False
    try:
        async with context.session.request(
            check.method,
            check.url,
            headers=check.headers,
            data=check.body,
            allow_redirects=check.follow_redirects,
            ssl=ssl_option,
        ) as response:
            first_byte_ms = (time.perf_counter() - began) * 1000
            excerpt = await response.content.read(BODY_EXCERPT_BYTES)
            status_code = response.status
    except aiohttp.TooManyRedirects:
        return Outcome("down", "too many redirects")
    except aiohttp.ClientConnectorCertificateError as error:
        return Outcome("down", f"TLS certificate error: {error.certificate_error}")
    except aiohttp.ClientConnectorError as error:
        return Outcome("down", _connect_message(error))
    except aiohttp.ClientError as error:
        return Outcome("down", f"HTTP error: {error}" if str(error) else type(error).__name__)
    total_ms = (time.perf_counter() - began) * 1000
    metrics = {"status_code": float(status_code), "first_byte_ms": first_byte_ms, "total_ms": total_ms}
    detail: dict[str, str | int | bool | None] = {
        "status_code": status_code,
        "body_excerpt": excerpt.decode("utf-8", "replace"),
    }
    if status_code >= 400:
        return Outcome("down", f"HTTP status {status_code}", metrics, detail)
    return Outcome("up", None, metrics, detail)


def _connect_message(error: aiohttp.ClientConnectorError) -> str:
    os_error = error.os_error
    if isinstance(os_error, ConnectionRefusedError):
        return f"connection refused ({error.host}:{error.port})"
    reason = getattr(os_error, "strerror", None) or str(os_error) or type(os_error).__name__
    return f"cannot connect to {error.host}:{error.port}: {reason}"
