"""The http probe against a real aiohttp server: statuses, conditions, timing, capped bodies,
redirects and TLS with certificates the test makes."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp import web

from agent.probes import run_check
from agent.probes.context import ProbeContext
from shared.checks import parse_check
from tests.agent.conftest import ServeFn, closed_port
from tests.agent.tlsutil import Pki


async def endless(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse()
    await response.prepare(request)
    chunk = b"x" * 65536
    while True:
        await response.write(chunk)


def make_app() -> web.Application:
    app = web.Application()

    async def ok(_request: web.Request) -> web.Response:
        return web.json_response({"status": "UP", "data": [{"id": 1}], "items": [1, 2, 3]})

    async def status(request: web.Request) -> web.Response:
        return web.Response(status=int(request.match_info["code"]), text="status page")

    async def slow(_request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.Response(text="late")

    async def huge(_request: web.Request) -> web.Response:
        return web.Response(body=b"y" * (5 * 1024 * 1024))

    async def loop(_request: web.Request) -> web.Response:
        raise web.HTTPFound("/loop")

    async def hop(_request: web.Request) -> web.Response:
        raise web.HTTPFound("/ok")

    app.router.add_get("/ok", ok)
    app.router.add_get("/status/{code}", status)
    app.router.add_get("/slow", slow)
    app.router.add_get("/huge", huge)
    app.router.add_get("/endless", endless)
    app.router.add_get("/loop", loop)
    app.router.add_get("/hop", hop)
    return app


def http_check(url: str, **fields: Any) -> Any:
    return parse_check(
        {"id": "web", "kind": "http", "url": url, "interval": "10s", "timeout": "3s", **fields}
    )


@pytest.fixture
async def base(serve: ServeFn) -> str:
    return f"http://127.0.0.1:{await serve(make_app())}"


async def test_up_with_timing_breakdown(base: str, context: ProbeContext) -> None:
    result = await run_check(http_check(base + "/ok"), context)
    assert result.status == "up", result.error
    for phase in ("dns_ms", "connect_ms", "tls_ms", "first_byte_ms", "total_ms"):
        assert phase in result.metrics
    assert result.metrics["connect_ms"] > 0
    assert result.metrics["first_byte_ms"] <= result.metrics["total_ms"]
    assert result.detail["ip"] == "127.0.0.1"


@pytest.mark.parametrize(("code", "status"), [(200, "up"), (204, "up"), (404, "down"), (503, "down")])
async def test_status_codes(base: str, context: ProbeContext, code: int, status: str) -> None:
    result = await run_check(http_check(f"{base}/status/{code}"), context)
    assert result.status == status
    if status == "down":
        assert result.error == f"HTTP status {code}"


async def test_conditions_explain_failures(base: str, context: ProbeContext) -> None:
    check = http_check(
        base + "/ok",
        conditions=[
            "[STATUS] == 200",
            "[BODY].status == DOWN",
            "len([BODY].items) == 3",
            "[RESPONSE_TIME] < 2s",
        ],
    )
    result = await run_check(check, context)
    assert result.status == "down"
    assert result.error == "[BODY].status: expected DOWN, got UP"


async def test_status_condition_replaces_default_rule(base: str, context: ProbeContext) -> None:
    result = await run_check(http_check(base + "/status/404", conditions=["[STATUS] == 404"]), context)
    assert result.status == "up", result.error


async def test_keyword_present_and_absent(base: str, context: ProbeContext) -> None:
    assert (await run_check(http_check(base + "/ok", keyword="UP"), context)).status == "up"
    missing = await run_check(http_check(base + "/ok", keyword="maintenance"), context)
    assert missing.error == "keyword 'maintenance' not found in the response body"
    forbidden = await run_check(http_check(base + "/ok", forbidden_keyword="UP"), context)
    assert forbidden.error == "forbidden keyword 'UP' found in the response body"


async def test_slow_response_times_out(base: str, context: ProbeContext) -> None:
    check = parse_check(
        {"id": "w", "kind": "http", "url": base + "/slow", "timeout": "300ms", "interval": "1s"}
    )
    result = await run_check(check, context)
    assert result.status == "down"
    assert result.error == "timed out after 0.3s"


async def test_huge_body_is_capped(base: str, context: ProbeContext) -> None:
    result = await run_check(http_check(base + "/huge", max_body_bytes=100_000), context)
    assert result.status == "up"
    assert result.metrics["body_bytes"] == 100_000
    assert result.detail["body_truncated"] is True


async def test_endless_body_stops_at_the_cap(base: str, context: ProbeContext) -> None:
    result = await run_check(http_check(base + "/endless", keyword="z"), context)
    assert result.metrics["body_bytes"] == 1024 * 1024
    assert result.detail["body_truncated"] is True
    assert result.error == "keyword 'z' not found in the response body"


async def test_redirects_followed_or_not(base: str, context: ProbeContext) -> None:
    followed = await run_check(http_check(base + "/hop", conditions=["[BODY].status == UP"]), context)
    assert followed.status == "up" and followed.metrics["redirects"] == 1
    kept = await run_check(
        http_check(base + "/hop", follow_redirects=False, conditions=["[STATUS] == 302"]), context
    )
    assert kept.status == "up", kept.error


async def test_redirect_loop(base: str, context: ProbeContext) -> None:
    result = await run_check(http_check(base + "/loop", max_redirects=5), context)
    assert result.status == "down"
    assert result.error == "too many redirects (more than 5; a redirect loop?)"


async def test_connection_refused(context: ProbeContext) -> None:
    port = closed_port()
    result = await run_check(http_check(f"http://127.0.0.1:{port}/"), context)
    assert result.status == "down"
    assert result.error == f"connection refused (127.0.0.1:{port})"


def tls_app() -> web.Application:
    app = web.Application()

    async def ok(_request: web.Request) -> web.Response:
        return web.Response(text="secure")

    app.router.add_get("/", ok)
    return app


async def test_tls_self_signed_refused_when_verifying(
    serve: ServeFn, pki: Pki, context: ProbeContext
) -> None:
    port = await serve(tls_app(), pki.server_context("selfsigned"))
    result = await run_check(http_check(f"https://127.0.0.1:{port}/"), context)
    assert result.status == "down"
    assert result.error == "TLS certificate error: self-signed certificate"


async def test_tls_verify_off_measures_tls_and_expiry(
    serve: ServeFn, pki: Pki, context: ProbeContext
) -> None:
    port = await serve(tls_app(), pki.server_context("selfsigned"))
    check = http_check(
        f"https://127.0.0.1:{port}/", verify_tls=False, conditions=["[CERTIFICATE_EXPIRATION] > 48h"]
    )
    result = await run_check(check, context)
    assert result.status == "up", result.error
    assert result.metrics["tls_ms"] > 0
    assert 89 < result.metrics["cert_expiry_days"] <= 90


async def test_tls_expired_certificate_condition(serve: ServeFn, pki: Pki, context: ProbeContext) -> None:
    port = await serve(tls_app(), pki.server_context("expired"))
    strict = await run_check(http_check(f"https://127.0.0.1:{port}/", ca_file=str(pki.ca_file)), context)
    assert strict.error == "TLS certificate error: certificate has expired"
    check = http_check(
        f"https://127.0.0.1:{port}/", verify_tls=False, conditions=["[CERTIFICATE_EXPIRATION] > 48h"]
    )
    lax = await run_check(check, context)
    assert lax.status == "down"
    assert lax.error == "[CERTIFICATE_EXPIRATION]: expected > 48h, got 0s"


async def test_tls_private_ca_trusted_through_ca_file(
    serve: ServeFn, pki: Pki, context: ProbeContext
) -> None:
    port = await serve(tls_app(), pki.server_context("valid"))
    result = await run_check(http_check(f"https://localhost:{port}/", ca_file=str(pki.ca_file)), context)
    assert result.status == "up", result.error
    wrong = await serve(tls_app(), pki.server_context("wronghost"))
    mismatch = await run_check(http_check(f"https://localhost:{wrong}/", ca_file=str(pki.ca_file)), context)
    assert mismatch.status == "down"
    assert "Hostname mismatch" in (mismatch.error or "")
