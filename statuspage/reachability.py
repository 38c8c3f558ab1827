"""Is an address globally reachable? The IANA registries' answer, not a hand list.

Python's `ipaddress.is_global` follows the IANA special-purpose registries, but
which revision depends on the interpreter (3.11 before 3.11.10 predates the
2024 corrections), and the special-purpose registries alone do not cover the
IPv6 space IANA never allocated for global unicast: the deprecated site-local
range `fec0::/10` (RFC 3879) is in neither, so `is_global` is True for
`fec0::1` on every Python. Hence an address counts as globally reachable only
when all of these agree:

1. the interpreter's `is_global`;
2. the IANA IPv6 Address Space registry: only `2000::/3` is "Global Unicast"
   (everything else is reserved, ULA, link-local, multicast or deprecated), so
   any other IPv6 range, including one defined after this was written, is not;
3. the IANA IPv4 and IPv6 Special-Purpose Address Registries' "Globally
   Reachable" column, for the most specific block that holds the address
   (copied below with the registries' names; revision 2025).

IPv4-embedding IPv6 forms (mapped, 6to4, NAT64, Teredo) are judged by the IPv4
address they carry, by the caller (`statuspage.netguard`).
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# (block, name, globally reachable) from
# https://www.iana.org/assignments/iana-ipv4-special-registry/ (and the IPv4 address space
# registry for multicast and the limited broadcast address).
IPV4_SPECIAL: tuple[tuple[str, str, bool], ...] = (
    ("0.0.0.0/8", '"This network"', False),
    ("10.0.0.0/8", "private-use", False),
    ("100.64.0.0/10", "shared address space (carrier-grade NAT)", False),
    ("127.0.0.0/8", "loopback", False),
    ("169.254.0.0/16", "link-local", False),
    ("172.16.0.0/12", "private-use", False),
    ("192.0.0.0/24", "IETF protocol assignments", False),
    ("192.0.0.9/32", "Port Control Protocol anycast", True),
    ("192.0.0.10/32", "Traversal Using Relays around NAT anycast", True),
    ("192.0.2.0/24", "documentation (TEST-NET-1)", False),
    ("192.31.196.0/24", "AS112-v4", True),
    ("192.52.193.0/24", "AMT", True),
    ("192.88.99.0/24", "deprecated 6to4 relay anycast", False),
    ("192.168.0.0/16", "private-use", False),
    ("192.175.48.0/24", "direct delegation AS112 service", True),
    ("198.18.0.0/15", "benchmarking", False),
    ("198.51.100.0/24", "documentation (TEST-NET-2)", False),
    ("203.0.113.0/24", "documentation (TEST-NET-3)", False),
    ("224.0.0.0/4", "multicast", False),
    ("240.0.0.0/4", "reserved", False),
    ("255.255.255.255/32", "limited broadcast", False),
)

# https://www.iana.org/assignments/iana-ipv6-special-registry/
IPV6_SPECIAL: tuple[tuple[str, str, bool], ...] = (
    ("::1/128", "loopback", False),
    ("::/128", "unspecified", False),
    ("::ffff:0:0/96", "IPv4-mapped", False),
    ("64:ff9b::/96", "IPv4-IPv6 translation", True),
    ("64:ff9b:1::/48", "IPv4-IPv6 local-use translation", False),
    ("100::/64", "discard-only", False),
    ("100:0:0:1::/64", "dummy IPv6 prefix", False),
    ("2001::/23", "IETF protocol assignments", False),
    ("2001:1::1/128", "Port Control Protocol anycast", True),
    ("2001:1::2/128", "Traversal Using Relays around NAT anycast", True),
    ("2001:1::3/128", "DNS-SD service registration protocol anycast", True),
    ("2001:2::/48", "benchmarking", False),
    ("2001:3::/32", "AMT", True),
    ("2001:4:112::/48", "AS112-v6", True),
    ("2001:10::/28", "deprecated ORCHID", False),
    ("2001:20::/28", "ORCHIDv2", True),
    ("2001:30::/28", "drone remote ID protocol entity tags", True),
    ("2001:db8::/32", "documentation", False),
    ("2620:4f:8000::/48", "direct delegation AS112 service", True),
    ("3fff::/20", "documentation", False),
    ("5f00::/16", "segment routing SIDs", False),
    ("fc00::/7", "unique-local", False),
    ("fe80::/10", "link-local unicast", False),
)

# https://www.iana.org/assignments/ipv6-address-space/: the only range allocated as Global Unicast.
IPV6_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")


@lru_cache(maxsize=1)
def _special_blocks() -> tuple[tuple[IPNetwork, str, bool], ...]:
    blocks = [
        (ipaddress.ip_network(text), name, reachable) for text, name, reachable in IPV4_SPECIAL + IPV6_SPECIAL
    ]
    # Most specific first, so the first block that holds an address decides.
    return tuple(sorted(blocks, key=lambda block: -block[0].prefixlen))


def special_block(address: IPAddress) -> tuple[str, bool] | None:
    """(registry name, globally reachable) of the most specific special-purpose block, if any."""
    for network, name, reachable in _special_blocks():
        if network.version == address.version and address in network:
            return name, reachable
    return None


def unreachable_reason(address: IPAddress) -> str | None:
    """Why `address` is not globally reachable per the registries, or None when it is."""
    if isinstance(address, ipaddress.IPv6Address) and address not in IPV6_GLOBAL_UNICAST:
        block = special_block(address)
        if block is not None and block[1]:
            return None if address.is_global else f"{block[0]} address"
        if address.is_site_local:
            return "site-local address (deprecated, RFC 3879)"
        return block[0] + " address" if block else "address outside IANA's global unicast space (2000::/3)"
    block = special_block(address)
    if block is not None and not block[1]:
        return f"{block[0]} address"
    if not address.is_global:
        return "non-global address"
    return None


def is_globally_reachable(address: IPAddress) -> bool:
    """True only when the interpreter and the IANA registries both say the address is global."""
    return unreachable_reason(address) is None
