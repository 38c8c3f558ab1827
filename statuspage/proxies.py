"""Who is the client, and did the request arrive over TLS? Believing proxies only when they are ours.

`X-Forwarded-For` is a list anyone can write. Walking it from the right and
stopping at the first address that is not a trusted proxy gives the address
the trusted chain actually saw; a client that forges the header only adds
entries to the left of that point. With no trusted proxies configured the
header is ignored entirely and the socket peer is the client.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

from flask import Request

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(values: Iterable[str]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(value, strict=False) for value in values)


def _is_trusted(address: str, trusted: tuple[IPNetwork, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip().split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip.version == net.version and ip in net for net in trusted)


def client_address(request: Request, trusted: tuple[IPNetwork, ...]) -> str:
    """The client's address: the socket peer, or the nearest untrusted X-Forwarded-For hop."""
    peer = request.remote_addr or "unknown"
    if not trusted or not _is_trusted(peer, trusted):
        return peer
    hops = [hop.strip() for hop in request.headers.get("X-Forwarded-For", "").split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _is_trusted(hop, trusted):
            return _valid_or(hop, peer)
    return _valid_or(hops[0], peer) if hops else peer


def _valid_or(hop: str, fallback: str) -> str:
    try:
        return str(ipaddress.ip_address(hop.split("%", 1)[0]))
    except ValueError:
        return fallback  # garbage in the header: do not key rate limits on attacker text


# The headers gunicorn's secure_scheme_headers reads, with the values meaning "https".
TLS_HEADERS = {"X-Forwarded-Proto": "https", "X-Forwarded-Ssl": "on", "X-Forwarded-Protocol": "ssl"}
_ENVIRON_KEYS = {name: "HTTP_" + name.upper().replace("-", "_") for name in TLS_HEADERS}


def arrived_over_tls(request: Request, trusted: tuple[IPNetwork, ...]) -> bool:
    """True for a direct https request, or when a trusted proxy says it terminated TLS.

    `request.scheme` is https also when gunicorn believed a forwarded header; it
    is given the same list (`forwarded_allow_ips`, under `serve` and in
    deploy/gunicorn.conf.py), so both decide alike.
    """
    return environ_over_tls(request.environ, trusted)


def environ_over_tls(environ: Mapping[str, Any], trusted: tuple[IPNetwork, ...]) -> bool:
    """`arrived_over_tls` for a bare WSGI environ (where no Request object is built)."""
    if environ.get("wsgi.url_scheme") == "https":
        return True
    peer = environ.get("REMOTE_ADDR") or ""
    if not trusted or not _is_trusted(peer, trusted):
        return False
    return any(
        str(environ.get(_ENVIRON_KEYS[name], "")).split(",")[0].strip().lower() == value
        for name, value in TLS_HEADERS.items()
    )
