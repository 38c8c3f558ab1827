"""The domain probe against an RDAP server and an IANA-format bootstrap registry on loopback.

The answers are shaped like real registries' (fixtures/rdap/): Verisign's for
.com (registrar jCard, Z dates), Public Interest Registry's for .org (fractional
seconds), DENIC's for .de (no expiration event), and the RFC 9083 error object.
The clock is injected, so the fixtures' dates never go stale.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from agent.probes import run_check
from agent.probes.context import ProbeContext
from shared.checks import parse_check
from tests.agent.conftest import ServeFn, closed_port

FIXTURES = Path(__file__).parent / "fixtures" / "rdap"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
ANSWERS = {
    "acme-shop.com": "verisign_com.json",
    "acme-status.org": "nic_expiring.json",
    "acme-lager.de": "denic_no_expiry.json",
}


def rdap_app(requests: list[str]) -> web.Application:
    async def domain(request: web.Request) -> web.Response:
        requests.append(request.path)
        assert "application/rdap+json" in request.headers["Accept"]
        name = request.match_info["name"]
        if name == "slow.com":
            await asyncio.Event().wait()
        if name == "junk.com":
            return web.Response(text="<html>maintenance</html>", content_type="text/html")
        fixture = ANSWERS.get(name, "not_found.json")
        status = 200 if name in ANSWERS else 404
        return web.Response(
            body=(FIXTURES / fixture).read_bytes(), status=status, content_type="application/rdap+json"
        )

    async def bootstrap(request: web.Request) -> web.Response:
        requests.append(request.path)
        base = f"http://{request.host}"
        return web.json_response(
            {
                "description": "RDAP bootstrap file for Domain Name System registrations",
                "publication": "2026-11-20T17:00:02Z",
                "services": [
                    [["net", "com"], [f"{base}/com/v1/"]],
                    [["org"], [f"{base}/org/", "https://127.0.0.1:9/org/"]],
                    [["de"], [f"{base}/de/"]],
                ],
                "version": "1.0",
            }
        )

    app = web.Application()
    app.router.add_get("/{tld}/v1/domain/{name}", domain)
    app.router.add_get("/{tld}/domain/{name}", domain)
    app.router.add_get("/dns.json", bootstrap)
    return app


@pytest.fixture
async def rdap(serve: ServeFn) -> tuple[int, list[str]]:
    requests: list[str] = []
    return await serve(rdap_app(requests)), requests


def domain_check(domain: str, port: int, **fields: Any) -> Any:
    return parse_check(
        {
            "id": "d",
            "kind": "domain",
            "domain": domain,
            "rdap_bootstrap": f"http://127.0.0.1:{port}/dns.json",
            "interval": "6h",
            "timeout": "2s",
            **fields,
        }
    )


@pytest.fixture
def clocked(context: ProbeContext) -> ProbeContext:
    context.clock = lambda: NOW
    return context


async def test_expiry_through_the_bootstrap(rdap: tuple[int, list[str]], clocked: ProbeContext) -> None:
    port, requests = rdap
    check = domain_check("Acme-Shop.com", port, conditions=["[DOMAIN_EXPIRATION] > 720h"])
    result = await run_check(check, clocked)
    assert result.status == "up", result.error
    assert result.detail["registrar"] == "MarkMonitor Inc."
    assert result.detail["expires_at"] == "2028-09-14T04:00:00+00:00"
    assert (
        result.detail["status"]
        == "client delete prohibited, client transfer prohibited, client update prohibited"
    )
    assert result.metrics["days_left"] == pytest.approx(652.667, abs=0.01)
    # The bootstrap is fetched once and kept; the second run asks the registry only.
    await run_check(check, clocked)
    assert requests == ["/dns.json", "/com/v1/domain/acme-shop.com", "/com/v1/domain/acme-shop.com"]


async def test_https_is_preferred(rdap: tuple[int, list[str]], clocked: ProbeContext) -> None:
    port, _requests = rdap
    # RFC 9224: .org lists a live http URL and a dead https one; the https one is asked.
    result = await run_check(domain_check("acme-status.org", port), clocked)
    assert result.status == "down"
    assert result.error is not None and result.error.startswith(
        "cannot reach RDAP server https://127.0.0.1:9/org/: "
    )


async def test_expiring_soon_names_the_date(rdap: tuple[int, list[str]], clocked: ProbeContext) -> None:
    port, _requests = rdap
    check = domain_check("acme-status.org", port, rdap_server=f"http://127.0.0.1:{port}/org/")
    result = await run_check(check, clocked)
    assert result.status == "down"
    assert (
        result.error
        == "the registration of acme-status.org expires in 6d 20h 10m (2026-12-08), less than 14 days"
    )
    with_condition = domain_check(
        "acme-status.org",
        port,
        rdap_server=f"http://127.0.0.1:{port}/org",
        conditions=["[DOMAIN_EXPIRATION] > 720h"],
    )
    result = await run_check(with_condition, clocked)
    assert result.error == "[DOMAIN_EXPIRATION]: expected > 720h, got 6d 20h 10m"
    relaxed = domain_check(
        "acme-status.org", port, rdap_server=f"http://127.0.0.1:{port}/org", min_days_left=3
    )
    assert (await run_check(relaxed, clocked)).status == "up"


async def test_expired(rdap: tuple[int, list[str]], context: ProbeContext) -> None:
    port, _requests = rdap
    context.clock = lambda: datetime(2029, 1, 1, tzinfo=UTC)
    result = await run_check(domain_check("acme-shop.com", port), context)
    assert result.status == "down"
    assert result.error == "the registration of acme-shop.com expired on 2028-09-14"


async def test_wrong_answers(rdap: tuple[int, list[str]], clocked: ProbeContext) -> None:
    port, _requests = rdap
    server = f"http://127.0.0.1:{port}/com/v1/"
    cases = {
        "acme-lager.de": "the RDAP answer for acme-lager.de has no expiration event (the registry may not publish it)",
        "unregistered.com": f"RDAP server {server} answered 404: the domain is not registered there",
        "junk.com": f"RDAP server {server} answered something that is not JSON",
    }
    for name, message in cases.items():
        fields = {} if name.endswith(".de") else {"rdap_server": server}
        result = await run_check(domain_check(name, port, **fields), clocked)
        assert (result.status, result.error) == ("down", message), name
    unknown = await run_check(domain_check("acme.example", port), clocked)
    assert (
        unknown.error
        == f"no RDAP server for .example in the bootstrap registry http://127.0.0.1:{port}/dns.json; set rdap_server"
    )


async def test_refused_and_timeout(rdap: tuple[int, list[str]], clocked: ProbeContext) -> None:
    port, _requests = rdap
    dead = f"http://127.0.0.1:{closed_port()}/"
    result = await run_check(domain_check("acme-shop.com", port, rdap_server=dead), clocked)
    assert result.status == "down"
    assert result.error is not None and result.error.startswith(f"cannot reach RDAP server {dead}: ")
    slow = domain_check("slow.com", port, rdap_server=f"http://127.0.0.1:{port}/com/v1/", timeout="1s")
    result = await run_check(slow, clocked)
    assert (result.status, result.error) == ("down", "timed out after 1s")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"domain": "localhost"}, "checks[0].domain:"),
        ({"domain": "bad_name.com"}, "checks[0].domain:"),
        ({"rdap_server": "ftp://rdap.test/"}, "checks[0].rdap_server: must start with https://"),
        ({"min_days_left": -1}, "checks[0].min_days_left:"),
        ({"conditions": ["[RESULT] == 1"]}, "[RESULT] is not available here"),
        ({"conditions": ["[DOMAIN_EXPIRATION] > soon"]}, "neither a number of milliseconds nor a duration"),
    ],
)
def test_bad_config_names_the_key(fields: dict[str, Any], message: str) -> None:
    from pydantic import ValidationError

    from shared.checks import describe_error

    with pytest.raises(ValidationError) as caught:
        domain_check(fields.pop("domain", "acme.com"), 1, **fields)
    assert message in describe_error(caught.value, "checks[0]")


def test_fixtures_are_rdap_json() -> None:
    for path in FIXTURES.glob("*.json"):
        assert "rdapConformance" in json.loads(path.read_text()), path
