"""The SSRF address list: static URL checks and connect-time refusal in aiohttp and requests."""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import aiohttp
import pytest
import requests

from statuspage.netguard import (
    BlockedAddress,
    OutboundPolicy,
    UnsafeDestination,
    address_problem,
    check_url,
    guarded_connector,
    guarded_session,
    parse_ip_literal,
)

# (address, blocked?) — each line one case.
ADDRESSES = [
    ("127.0.0.1", True),
    ("127.255.255.254", True),
    ("0.0.0.0", True),
    ("10.0.0.1", True),
    ("172.16.5.4", True),
    ("192.168.1.1", True),
    ("169.254.169.254", True),
    ("169.254.170.2", True),
    ("100.100.100.200", True),
    ("100.64.0.1", True),
    ("168.63.129.16", True),
    ("192.0.0.1", True),
    ("192.0.2.1", True),
    ("198.18.0.1", True),
    ("198.51.100.7", True),
    ("203.0.113.9", True),
    ("224.0.0.1", True),
    ("239.255.255.250", True),
    ("240.0.0.1", True),
    ("255.255.255.255", True),
    ("::1", True),
    ("::", True),
    ("fe80::1", True),
    ("fc00::1", True),
    ("fd00:ec2::254", True),
    ("ff02::1", True),
    ("::ffff:127.0.0.1", True),
    ("::ffff:10.0.0.1", True),
    ("::ffff:169.254.169.254", True),
    ("::127.0.0.1", True),
    ("64:ff9b::7f00:1", True),
    ("64:ff9b::a9fe:a9fe", True),
    ("2002:7f00:1::", True),
    ("2002:a9fe:a9fe::", True),
    ("2001:db8::1", True),
    ("2001:0:4136:e378:8000:63bf:80ff:fffe", True),  # Teredo carrying 127.0.0.1
    ("93.184.215.14", False),
    ("8.8.8.8", False),
    ("1.1.1.1", False),
    ("2606:4700:4700::1111", False),
    ("::ffff:8.8.8.8", False),
    ("64:ff9b::808:808", False),
]


@pytest.mark.parametrize(("address", "blocked"), ADDRESSES)
def test_address_list(address: str, blocked: bool) -> None:
    reason = address_problem(ipaddress.ip_address(address))
    assert (reason is not None) is blocked, reason


# Literal spellings libc and browsers accept for the same blocked addresses.
LITERALS = [
    ("2130706433", "127.0.0.1"),
    ("0177.0.0.1", "127.0.0.1"),
    ("0x7f.0.0.1", "127.0.0.1"),
    ("0x7f000001", "127.0.0.1"),
    ("127.1", "127.0.0.1"),
    ("0", "0.0.0.0"),
    ("017700000001", "127.0.0.1"),
    ("2852039166", "169.254.169.254"),
    ("0xa9.0xfe.0xa9.0xfe", "169.254.169.254"),
    ("012.0.0.1", "10.0.0.1"),
    ("[::ffff:127.0.0.1]", "::ffff:127.0.0.1"),
    ("[::ffff:7f00:1]", "::ffff:127.0.0.1"),
    ("[fe80::1%25eth0]", "fe80::1"),
    ("example.com", None),
    ("deadbeef.example", None),
    ("cafe", None),
]


@pytest.mark.parametrize(("host", "expected"), LITERALS)
def test_literal_spellings(host: str, expected: str | None) -> None:
    parsed = parse_ip_literal(host.replace("%25", "%"))
    assert parsed == (ipaddress.ip_address(expected) if expected else None)


BAD_URLS = [
    "http://127.0.0.1/",
    "http://2130706433/",
    "http://0177.0.0.1:8080/admin/",
    "http://0x7f.1/",
    "http://[::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:a9fe:a9fe]/latest/meta-data/",
    "http://169.254.169.254/latest/meta-data/",
    "http://localhost/",
    "http://api.localhost./",
    "http://10.1.2.3:9200/_search",
    "https://user:pw@192.168.0.1/",
    "ftp://example.com/",
    "file:///etc/passwd",
    "gopher://example.com/",
    "javascript:alert(1)",
    "http:///nohost",
    "http://example.com/\r\nX-Injected: 1",
    "http://exa mple.com/",
    "http://example.com:0/",
    "http://example.com:99999/",
]


@pytest.mark.parametrize("url", BAD_URLS)
def test_check_url_refuses(url: str) -> None:
    with pytest.raises(UnsafeDestination):
        check_url(url)


@pytest.mark.parametrize(
    "url", ["https://hooks.example.com/x?y=1", "http://8.8.8.8:8080/", "https://[2606:4700::1]/"]
)
def test_check_url_accepts(url: str) -> None:
    assert check_url(url) == url


def test_allow_list_exempts_an_operator_network() -> None:
    policy = OutboundPolicy.from_strings(["10.20.0.0/16"])
    assert check_url("http://10.20.1.1/hook", policy)
    with pytest.raises(UnsafeDestination):
        check_url("http://10.21.1.1/hook", policy)
    with pytest.raises(ValueError, match="not an IP network"):
        OutboundPolicy.from_strings(["10.0.0.0/33"])


class _Recorder(BaseHTTPRequestHandler):
    hits: list[str]
    redirect_to: str | None = None

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        type(self).hits.append(self.path)
        if self.redirect_to:
            self.send_response(302)
            self.send_header("Location", self.redirect_to)
            self.end_headers()
            return
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *_args: object) -> None:
        pass


def _serve(host: str, redirect_to: str | None = None) -> tuple[ThreadingHTTPServer, list[str]]:
    hits: list[str] = []
    handler = type("Handler", (_Recorder,), {"hits": hits, "redirect_to": redirect_to})
    server = ThreadingHTTPServer((host, 0), handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server, hits


@pytest.fixture
def internal() -> Iterator[tuple[int, list[str]]]:
    """An 'internal' service on 127.0.0.2 that must never be reached."""
    server, hits = _serve("127.0.0.2")
    yield server.server_address[1], hits
    server.shutdown()
    server.server_close()


@pytest.fixture
def redirector(internal: tuple[int, list[str]]) -> Iterator[tuple[int, list[str]]]:
    """A 'public' service on 127.0.0.1 (allowed by policy) that redirects to the internal one."""
    server, hits = _serve("127.0.0.1", redirect_to=f"http://127.0.0.2:{internal[0]}/secret")
    yield server.server_address[1], hits
    server.shutdown()
    server.server_close()


ALLOW_ONE = OutboundPolicy.from_strings(["127.0.0.1/32"])
# Hosts that name the internal service in the spellings an attacker would use.
CONNECT_HOSTS = ["127.0.0.2", "2130706434", "0177.0.0.2", "[::ffff:127.0.0.2]"]


@pytest.mark.parametrize("host", CONNECT_HOSTS)
async def test_aiohttp_refuses_at_connect_time(host: str, internal: tuple[int, list[str]]) -> None:
    port, hits = internal
    async with aiohttp.ClientSession(connector=guarded_connector(ALLOW_ONE)) as session:
        # Recent aiohttp refuses legacy numeric spellings itself (InvalidUrlClientError);
        # everything else reaches the guard and fails as a refused connection.
        with pytest.raises(aiohttp.ClientError) as caught:
            await session.get(f"http://{host}:{port}/x", timeout=aiohttp.ClientTimeout(total=5))
    error = caught.value
    assert isinstance(getattr(error, "os_error", None), BlockedAddress) or "canonical" in str(error)
    assert hits == []


async def test_aiohttp_refuses_a_redirect_into_the_network(
    redirector: tuple[int, list[str]], internal: tuple[int, list[str]]
) -> None:
    async with aiohttp.ClientSession(connector=guarded_connector(ALLOW_ONE)) as session:
        with pytest.raises(aiohttp.ClientConnectorError):
            await session.get(f"http://127.0.0.1:{redirector[0]}/", timeout=aiohttp.ClientTimeout(total=5))
    assert redirector[1] == ["/"]
    assert internal[1] == []


async def test_aiohttp_allowed_address_works(redirector: tuple[int, list[str]]) -> None:
    async with aiohttp.ClientSession(connector=guarded_connector(ALLOW_ONE)) as session:
        response = await session.get(
            f"http://127.0.0.1:{redirector[0]}/",
            allow_redirects=False,
            timeout=aiohttp.ClientTimeout(total=5),
        )
        assert response.status == 302


@pytest.mark.parametrize("host", CONNECT_HOSTS)
def test_requests_refuses_at_connect_time(host: str, internal: tuple[int, list[str]]) -> None:
    port, hits = internal
    with guarded_session(ALLOW_ONE) as session, pytest.raises(requests.ConnectionError, match="refusing"):
        session.get(f"http://{host}:{port}/x", timeout=5)
    assert hits == []


def test_requests_refuses_a_redirect_into_the_network(
    redirector: tuple[int, list[str]], internal: tuple[int, list[str]]
) -> None:
    with guarded_session(ALLOW_ONE) as session, pytest.raises(requests.ConnectionError, match="refusing"):
        session.get(f"http://127.0.0.1:{redirector[0]}/", timeout=5)
    assert redirector[1] == ["/"]
    assert internal[1] == []


def test_requests_allowed_address_works(redirector: tuple[int, list[str]]) -> None:
    with guarded_session(ALLOW_ONE) as session:
        response = session.get(f"http://127.0.0.1:{redirector[0]}/", allow_redirects=False, timeout=5)
    assert response.status_code == 302


async def test_a_dns_name_is_judged_by_its_answer(redirector: tuple[int, list[str]]) -> None:
    """`localhost` passes no static test here: the connect-time check sees 127.0.0.1 and refuses."""
    async with aiohttp.ClientSession(connector=guarded_connector()) as session:
        with pytest.raises(aiohttp.ClientConnectorError):
            await session.get(f"http://localhost:{redirector[0]}/", timeout=aiohttp.ClientTimeout(total=5))
    with guarded_session() as session, pytest.raises(requests.ConnectionError, match="refusing"):
        session.get(f"http://localhost:{redirector[0]}/", timeout=5)
    assert redirector[1] == []
