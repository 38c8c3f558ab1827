"""The collector as it really runs, under `serve` and under the shipped gunicorn config
(one server of each per module, real sockets):

- finding 6: gunicorn's own `forwarded_allow_ips` default (loopback) believed
  X-Forwarded-Proto from 127.0.0.1 although `security.trusted_proxies` named only
  127.0.0.2: the response got HSTS and a Secure cookie. One list now decides, in the
  app and in gunicorn;
- finding 8: ping keys, confirm/unsubscribe tokens and tokens in query strings
  appeared verbatim in the access log; they are cut to a short prefix.
"""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import BIN, free_port, start, stop, wait_for

ROOT = Path(__file__).resolve().parents[2]
CONFIG = """
[page]
name = "Forwarded"

[security]
trusted_proxies = ["127.0.0.2/32"]
"""


@dataclass(frozen=True)
class Served:
    kind: str
    port: int
    log: Path


def fetch(port: int, source: str, headers: dict[str, str]) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(source, 0))
    connection.request("GET", "/admin/login", headers=headers)
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


def secure_cookie(response: http.client.HTTPResponse) -> bool:
    cookies = response.headers.get_all("Set-Cookie") or []
    assert cookies, "the login page sets its CSRF cookie"
    return any("; secure" in cookie.lower() for cookie in cookies)


def server_command(kind: str, port: int) -> tuple[list[str], dict[str, str]]:
    if kind == "serve":
        return [
            str(BIN / "upwatch-statuspage"),
            "serve",
            "--port",
            str(port),
            "--workers",
            "1",
            "--no-worker",
        ], {}
    return (
        [str(BIN / "gunicorn"), "--config", str(ROOT / "deploy" / "gunicorn.conf.py")],
        {"UPWATCH_WEB_BIND": f"127.0.0.1:{port}", "UPWATCH_WEB_WORKERS": "1"},
    )


@pytest.fixture(scope="module", params=["serve", "gunicorn.conf.py"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp_path = tmp_path_factory.mktemp("served")
    config = tmp_path / "upwatch.toml"
    config.write_text(CONFIG)
    port = free_port()
    args, extra = server_command(request.param, port)
    env = {"UPWATCH_CONFIG": str(config), "UPWATCH_DATABASE": str(tmp_path / "upwatch.db"), **extra}
    process = start(args, env, tmp_path / "server.log")
    try:
        wait_for(lambda: fetch(port, "127.0.0.1", {}).status == 200, timeout_s=60)
        yield Served(request.param, port, tmp_path / "server.log")
    finally:
        stop(process)
    assert "Traceback" not in (tmp_path / "server.log").read_text()


def test_only_the_trusted_proxy_is_believed(server: Served) -> None:
    for forged in ({"X-Forwarded-Proto": "https"}, {"X-Forwarded-Ssl": "on"}):
        # The request: from 127.0.0.1, which is not a trusted proxy here.
        untrusted = fetch(server.port, "127.0.0.1", forged)
        assert "Strict-Transport-Security" not in untrusted.headers, (server.kind, forged)
        assert not secure_cookie(untrusted), (server.kind, forged)
        # From the trusted proxy the same header is believed, by gunicorn and the app alike.
        trusted = fetch(server.port, "127.0.0.2", forged)
        assert trusted.headers["Strict-Transport-Security"].startswith("max-age="), (server.kind, forged)
        assert secure_cookie(trusted), (server.kind, forged)


SECRETS = {
    "/ping/pk_0123456789abcdef/fail": "pk_0123456789abcdef",
    "/subscribe/confirm/cf_0123456789abcdef": "cf_0123456789abcdef",
    "/unsubscribe/us_0123456789abcdef": "us_0123456789abcdef",
    "/api/v1/admin/incidents?token=uwt_0123456789abcdef&page=2": "uwt_0123456789abcdef",
    "/?access_token=at_0123456789abcdef": "at_0123456789abcdef",
    "/oncall/act/oa_0123456789abcdef": "oa_0123456789abcdef",
    "/oncall/approve/ap_0123456789abcdef": "ap_0123456789abcdef",
    "/oncall/feeds/responder/alice/of_0123456789abcdef.ics": "of_0123456789abcdef",
}


def test_the_access_log_keeps_only_a_prefix_of_secrets(server: Served) -> None:
    for path in SECRETS:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        connection.request("GET", path, headers={"Referer": f"http://127.0.0.1{path}"})
        connection.getresponse().read()
        connection.close()

    def logged() -> str:
        text = server.log.read_text()
        return text if all(f"{secret[:4]}***" in text for secret in SECRETS.values()) else ""

    text = wait_for(logged, timeout_s=20)
    for secret in SECRETS.values():
        assert secret not in text, (server.kind, secret)
    assert "page=2" in text  # the rest of the query stays readable


def test_json_access_lines_are_redacted_too() -> None:
    """The same filter runs before either formatter (text or JSON) sees the record."""
    import json
    import logging

    from shared.logging_setup import JsonFormatter
    from statuspage.log_redaction import AccessLogRedactor

    atoms = {
        "r": "GET /ping/pk_0123456789abcdef HTTP/1.1",
        "U": "/ping/pk_0123456789abcdef",
        "q": "token=uwt_0123456789",
    }
    record = logging.LogRecord("gunicorn.access", logging.INFO, "", 0, '"%(r)s" %(q)s', (atoms,), None)
    assert AccessLogRedactor().filter(record)
    line = JsonFormatter().format(record)
    assert "0123456789" not in line
    entry = json.loads(line)
    assert entry["path"] == "/ping/pk_0***" and entry["query"] == "token=uwt_***"
