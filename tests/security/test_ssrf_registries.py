"""Finding 4: the deprecated site-local range fec0::/10 passed the SSRF guard. Addresses are
now judged by the IANA registries' "globally reachable" flag (statuspage/reachability.py)."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient

from statuspage.netguard import BlockedAddress, OutboundPolicy, address_problem, guarded_socket_factory
from statuspage.reachability import IPV4_SPECIAL, IPV6_SPECIAL, is_globally_reachable
from statuspage.settings import Settings


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(subscriptions={"webhooks": True})


@pytest.mark.parametrize("url", ["http://[fec0::1]/", "http://[fed0::5]/", "http://[feff::1]/x"])
def test_the_issues_request_is_refused_and_nothing_stored(client: FlaskClient, db: Any, url: str) -> None:
    response = client.post("/subscribe/webhook", data={"url": url})
    assert response.status_code == 400, response.text
    assert "site-local" in response.text
    assert db.execute("SELECT count(*) FROM webhook_subscriptions").fetchone()[0] == 0


# (address, blocked?) beyond tests/security/test_ssrf.py's list: ranges Python 3.11's
# is_global gets wrong or that only the IANA address-space registry excludes.
CASES = [
    ("fec0::1", True),
    ("fed0::5", True),
    ("feff:ffff::1", True),
    ("4000::1", True),  # unallocated: outside 2000::/3, whatever a future RFC makes of it
    ("e000::1", True),
    ("3fff::1", True),  # documentation (RFC 9637)
    ("5f00::1", True),  # segment routing SIDs (RFC 9602)
    ("100:0:0:1::1", True),  # dummy prefix (RFC 9780)
    ("2001:2::1", True),
    ("192.0.0.8", True),
    ("192.88.99.1", True),
    ("2a00:1450:4001::200e", False),
    ("2606:4700:4700::1111", False),
    ("8.8.8.8", False),
]


@pytest.mark.parametrize(("address", "blocked"), CASES)
def test_registry_flag_decides(address: str, blocked: bool) -> None:
    reason = address_problem(ipaddress.ip_address(address))
    assert (reason is not None) is blocked, reason


@pytest.mark.parametrize(("block", "name", "reachable"), IPV4_SPECIAL + IPV6_SPECIAL)
def test_every_non_reachable_registry_block_is_refused(block: str, name: str, reachable: bool) -> None:
    first = ipaddress.ip_network(block).network_address
    if not reachable:
        assert not is_globally_reachable(first), (block, name)
        assert address_problem(first) is not None


def test_connect_time_guard_refuses_site_local() -> None:
    import socket

    factory = guarded_socket_factory(OutboundPolicy())
    with pytest.raises(BlockedAddress, match="site-local"):
        factory((socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("fec0::1", 80, 0, 0)))
