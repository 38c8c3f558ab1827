"""Security headers on every page; proxies believed only when trusted."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask, Request
from werkzeug.test import EnvironBuilder

from statuspage import create_app
from statuspage.proxies import arrived_over_tls, client_address, parse_networks
from statuspage.settings import Settings
from statuspage.web import AGENT_API_PREFIX

REQUIRED = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "DENY",
}


def static_get_routes(app: Flask) -> list[str]:
    """Every GET route without parameters, so new pages are covered without editing this file."""
    return sorted(
        rule.rule
        for rule in app.url_map.iter_rules()
        if "GET" in (rule.methods or set()) and not rule.arguments
    )


def test_every_page_has_the_headers(app: Flask) -> None:
    client = app.test_client()
    paths = static_get_routes(app) + ["/no-such-page", "/static/status.css"]
    assert "/" in paths
    for path in paths:
        if path.startswith(AGENT_API_PREFIX):
            continue  # the agent API's own set: the next test
        response = client.get(path)
        for name, value in REQUIRED.items():
            assert response.headers.get(name) == value, (path, name)
        csp = response.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp, path
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, path
        assert "Strict-Transport-Security" not in response.headers, path


def test_the_agent_api_answers_with_the_short_set(app: Flask) -> None:
    """JSON for agents: no sniffing, nothing may load or frame it; no page-only headers."""
    client = app.test_client()
    paths = [p for p in static_get_routes(app) if p.startswith(AGENT_API_PREFIX)]
    assert "/api/v1/agent/assignments" in paths
    for response in [client.get(path) for path in paths] + [client.post("/api/v1/agent/reports", json={})]:
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
        for page_only in ("Referrer-Policy", "Permissions-Policy", "Cross-Origin-Opener-Policy"):
            assert page_only not in response.headers
        assert response.headers["X-Request-ID"]
    over_tls = client.get("/api/v1/agent/assignments", base_url="https://localhost")
    assert over_tls.headers["Strict-Transport-Security"].startswith("max-age=")


def test_hsts_only_over_tls(make_settings: Callable[..., Settings]) -> None:
    app = create_app(make_settings(security={"trusted_proxies": ["10.0.0.1"]}))
    client = app.test_client()
    assert "Strict-Transport-Security" in client.get("/", base_url="https://localhost").headers
    proxied = {"X-Forwarded-Proto": "https"}
    trusted = client.get("/", headers=proxied, environ_base={"REMOTE_ADDR": "10.0.0.1"})
    assert trusted.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    spoofed = client.get("/", headers=proxied, environ_base={"REMOTE_ADDR": "203.0.113.5"})
    assert "Strict-Transport-Security" not in spoofed.headers


TRUSTED = parse_networks(["10.0.0.0/24", "::1"])
# (peer, X-Forwarded-For, expected client) — each line one case.
CLIENTS = [
    ("203.0.113.5", "", "203.0.113.5"),
    ("203.0.113.5", "1.2.3.4", "203.0.113.5"),  # untrusted peer: header ignored
    ("10.0.0.1", "198.51.100.7", "198.51.100.7"),
    ("10.0.0.1", "1.2.3.4, 198.51.100.7", "198.51.100.7"),  # forged left entry ignored
    ("10.0.0.1", "198.51.100.7, 10.0.0.2", "198.51.100.7"),  # chain of trusted proxies
    ("10.0.0.1", "not-an-ip", "10.0.0.1"),
    ("10.0.0.1", "", "10.0.0.1"),
    ("::1", "2001:db8::5", "2001:db8::5"),
    ("10.0.0.1", "10.0.0.3", "10.0.0.3"),  # only trusted hops: the leftmost
    ("10.0.0.1", "<script>", "10.0.0.1"),
]


@pytest.mark.parametrize(("peer", "forwarded", "expected"), CLIENTS)
def test_client_address(peer: str, forwarded: str, expected: str) -> None:
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    request = Request(EnvironBuilder(headers=headers, environ_base={"REMOTE_ADDR": peer}).get_environ())
    assert client_address(request, TRUSTED) == expected


def test_forwarded_proto_needs_a_trusted_peer() -> None:
    def request(peer: str) -> Request:
        builder = EnvironBuilder(headers={"X-Forwarded-Proto": "https"}, environ_base={"REMOTE_ADDR": peer})
        return Request(builder.get_environ())

    assert arrived_over_tls(request("10.0.0.9"), TRUSTED)
    assert not arrived_over_tls(request("198.51.100.1"), TRUSTED)
    assert not arrived_over_tls(request("10.0.0.9"), ())
