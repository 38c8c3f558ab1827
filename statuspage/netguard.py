"""SSRF guard for outbound requests to addresses that non-operators chose (subscriber webhooks).

The threat: a subscriber registers `http://169.254.169.254/latest/meta-data/`,
`http://127.0.0.1:8080/admin/` or a name that resolves to 10.0.0.5, and the
worker fetches it from inside the network. Checking the URL when it is saved
is not enough: DNS can answer differently at delivery time (rebinding) and a
public URL can redirect to a private one. So the check runs **at connect time,
on the address actually being connected to**, in two transports:

- aiohttp: `guarded_connector()` passes a socket factory to `TCPConnector`;
  aiohttp calls it for every address it is about to connect to (after DNS,
  for IP literals too, and for every redirect hop);
- requests/urllib3: `guarded_session()` mounts an adapter whose connections
  resolve the host, refuse if any answer is blocked, and connect to the exact
  address they checked (no second lookup).

`check_url()` is the early, static check for forms and the API: it rejects
non-http(s) schemes and hosts that are blocked literals in any spelling
(`2130706433`, `0177.0.0.1`, `0x7f.1`, `[::ffff:127.0.0.1]`) so the subscriber
hears about it at once.

Blocked: every address the IANA registries do not flag "globally reachable"
(`statuspage.reachability`: loopback, private (RFC 1918, ULA), link-local,
carrier-grade NAT, multicast, unspecified, reserved, documentation, the
deprecated site-local `fec0::/10`, and any IPv6 outside `2000::/3`), plus cloud
metadata addresses; IPv6 forms that embed an IPv4 address (mapped,
compatible, 6to4, NAT64, Teredo) are judged by the address they embed.
Operators may exempt networks (`security.outbound_allow`), e.g. an internal
webhook receiver. Probes run by agents never use this module: reaching
internal services is their job.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import NewConnectionError

from statuspage.reachability import unreachable_reason

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Named because some are inside ranges Python calls "global" or because the
# reason is worth printing (metadata services answer credentials).
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "100.100.100.200", "fd00:ec2::254", "168.63.129.16")
)
NAT64_PREFIX = ipaddress.ip_network("64:ff9b::/96")
NAT64_LOCAL_PREFIX = ipaddress.ip_network("64:ff9b:1::/48")
# inet_aton accepts the legacy spellings browsers and libc accept: 127.1,
# 2130706433, 0177.0.0.1, 0x7f.0.0.1. Only strings made of these characters
# can be such a spelling (a DNS name needs a letter beyond a-f or x).
_LEGACY_IPV4_RE = re.compile(r"^[0-9a-fA-FxX.]+$")


class BlockedAddress(OSError):
    """A connection to a blocked address was refused before any byte was sent."""


class UnsafeDestination(ValueError):
    """A URL that outbound delivery will refuse; str(error) says why."""


@dataclass(frozen=True)
class OutboundPolicy:
    """Which addresses outbound delivery may reach: every global address plus `allow`."""

    allow: tuple[IPNetwork, ...] = ()

    @classmethod
    def from_strings(cls, networks: Iterable[str]) -> OutboundPolicy:
        """Build from CIDR strings; raises ValueError naming the bad entry."""
        parsed = []
        for text in networks:
            try:
                parsed.append(ipaddress.ip_network(text, strict=False))
            except ValueError:
                raise ValueError(f"not an IP network: {text!r}") from None
        return cls(tuple(parsed))

    def problem(self, address: IPAddress) -> str | None:
        """Why `address` may not be contacted, or None when it may."""
        return address_problem(address, self.allow)


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, compatible, 6to4, NAT64, Teredo), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in NAT64_PREFIX or address in NAT64_LOCAL_PREFIX:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    packed = address.packed
    # IPv4-compatible (::a.b.c.d, deprecated but still routed by some stacks).
    if packed[:12] == bytes(12) and int(address) > 0xFFFF:
        return ipaddress.IPv4Address(packed[12:])
    return None


def address_problem(address: IPAddress, allow: Iterable[IPNetwork] = ()) -> str | None:
    """Why `address` is blocked ("loopback", "private", ...), or None when it is allowed."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id:
            address = ipaddress.IPv6Address(address.compressed.split("%", 1)[0])
        inner = embedded_ipv4(address)
        if inner is not None:
            reason = address_problem(inner, allow)
            return f"{reason} (embedded in {address})" if reason else None
    if any(address.version == net.version and address in net for net in allow):
        return None
    if address in METADATA_ADDRESSES:
        return "cloud metadata address"
    # Named reasons first (clearer messages); the decision itself is the registries'
    # "globally reachable" flag, so a range nobody listed here is refused too.
    checks: list[tuple[str, Callable[[IPAddress], bool]]] = [
        ("unspecified address", lambda a: a.is_unspecified),
        ("loopback address", lambda a: a.is_loopback),
        ("link-local address", lambda a: a.is_link_local),
        ("multicast address", lambda a: a.is_multicast),
        ("private address", lambda a: a.is_private),
        ("reserved address", lambda a: a.is_reserved),
    ]
    for reason, test in checks:
        if test(address):
            return reason
    return unreachable_reason(address)


def parse_ip_literal(host: str) -> IPAddress | None:
    """The address a URL host names literally, in any spelling libc accepts; None for a DNS name."""
    text = host.strip().strip("[]").split("%", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        pass
    if text and _LEGACY_IPV4_RE.match(text) and any(ch.isdigit() for ch in text):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(text))
        except OSError:
            return None
    return None


def check_url(url: str, policy: OutboundPolicy | None = None) -> str:
    """Validate a webhook URL before storing it; return it unchanged.

    Raises UnsafeDestination for a scheme other than http/https, a missing
    host, control characters, `localhost` names, or a host that is a blocked
    address literal. DNS names pass here; their addresses are checked at
    connect time.
    """
    policy = policy or OutboundPolicy()
    if any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in url):
        raise UnsafeDestination("URL contains spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise UnsafeDestination(f"not a valid URL: {error}") from None
    if parts.scheme not in ("http", "https"):
        raise UnsafeDestination("URL must start with http:// or https://")
    host = parts.hostname
    if not host:
        raise UnsafeDestination("URL has no host")
    if port == 0:
        raise UnsafeDestination("URL port 0 is not allowed")
    if host.rstrip(".") == "localhost" or host.rstrip(".").endswith(".localhost"):
        raise UnsafeDestination("URL host is localhost")
    literal = parse_ip_literal(host)
    if literal is not None:
        reason = policy.problem(literal)
        if reason:
            raise UnsafeDestination(f"URL host {host} is a {reason}")
    return url


def _sockaddr_ip(sockaddr: tuple[Any, ...]) -> IPAddress:
    return ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])


# -- aiohttp ---------------------------------------------------------------------------------------


def guarded_socket_factory(policy: OutboundPolicy) -> Callable[[Any], socket.socket]:
    """A `TCPConnector(socket_factory=...)` hook refusing blocked addresses before connecting.

    aiohttp (through aiohappyeyeballs) hands it each (family, type, proto,
    canonname, sockaddr) it is about to connect to; raising BlockedAddress
    makes that attempt fail like a refused connection.
    """

    def factory(addr_info: Any) -> socket.socket:
        family, type_, proto, _canonname, sockaddr = addr_info
        reason = policy.problem(_sockaddr_ip(sockaddr))
        if reason:
            raise BlockedAddress(f"refusing to connect to {sockaddr[0]}: {reason}")
        return socket.socket(family=family, type=type_, proto=proto)

    return factory


def guarded_connector(policy: OutboundPolicy | None = None, **kwargs: Any) -> aiohttp.TCPConnector:
    """An aiohttp connector that refuses blocked addresses at connect time (use one per session).

    Keep `trust_env=False` on the ClientSession (the default) so no proxy
    from the environment becomes the address being checked.
    """
    return aiohttp.TCPConnector(socket_factory=guarded_socket_factory(policy or OutboundPolicy()), **kwargs)


# -- requests / urllib3 ----------------------------------------------------------------------------


def connect_checked(
    host: str, port: int, timeout: float | None, policy: OutboundPolicy, source: Any = None
) -> socket.socket:
    """Resolve `host`, refuse if any answer is blocked, connect to the checked address itself.

    Refusing on any blocked answer (not just skipping it) keeps a rebinding
    name from succeeding by luck of the order. Raises BlockedAddress or OSError.
    """
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    for *_rest, sockaddr in infos:
        reason = policy.problem(_sockaddr_ip(sockaddr))
        if reason:
            raise BlockedAddress(f"refusing to connect to {host} ({sockaddr[0]}): {reason}")
    last_error: OSError | None = None
    for family, type_, proto, _canonname, sockaddr in infos:
        sock = socket.socket(family, type_, proto)
        try:
            if timeout is not None:
                sock.settimeout(timeout)
            if source is not None:
                sock.bind(source)
            sock.connect(sockaddr)
            return sock
        except OSError as error:
            sock.close()
            last_error = error
    raise last_error or OSError(f"no address for {host}")


class _GuardedConnectionMixin:
    policy: OutboundPolicy = OutboundPolicy()

    def _new_conn(self) -> socket.socket:
        conn: Any = self
        try:
            sock = connect_checked(conn._dns_host, conn.port, conn.timeout, self.policy, conn.source_address)
        except BlockedAddress:
            raise
        except OSError as error:
            raise NewConnectionError(conn, f"Failed to establish a new connection: {error}") from error
        for option in conn.socket_options or []:
            sock.setsockopt(*option)
        return sock


def guarded_session(policy: OutboundPolicy | None = None) -> requests.Session:
    """A requests Session whose every connection (redirects included) passes the guard."""
    policy = policy or OutboundPolicy()

    class Connection(_GuardedConnectionMixin, HTTPConnection):
        pass

    class SecureConnection(_GuardedConnectionMixin, HTTPSConnection):
        pass

    Connection.policy = policy
    SecureConnection.policy = policy

    class Pool(HTTPConnectionPool):
        ConnectionCls = Connection

    class SecurePool(HTTPSConnectionPool):
        ConnectionCls = SecureConnection

    class Adapter(HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = {"http": Pool, "https": SecurePool}

    session = requests.Session()
    # Proxies from the environment would make the proxy the checked address.
    session.trust_env = False
    session.mount("http://", Adapter())
    session.mount("https://", Adapter())
    return session
