"""The dns probe against a local DNS responder the test runs on loopback (UDP)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import dns.message
import dns.rcode
import dns.rrset
import pytest

from agent.probes import run_check
from agent.probes.context import ProbeContext
from shared.checks import parse_check

RECORDS = {
    ("www.acme.test.", "A"): ["192.0.2.10", "192.0.2.11"],
    ("www.acme.test.", "AAAA"): ["2001:db8::10"],
    ("acme.test.", "MX"): ["10 mail.acme.test."],
    ("acme.test.", "TXT"): ['"v=spf1 -all"'],
    ("acme.test.", "NS"): ["ns1.acme.test."],
    ("alias.acme.test.", "CNAME"): ["www.acme.test."],
}


class Responder(asyncio.DatagramProtocol):
    """Answers from RECORDS; broken.acme.test gets SERVFAIL, silent.acme.test no answer."""

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        query = dns.message.from_wire(data)
        question = query.question[0]
        name, kind = question.name.to_text(), dns.rdatatype.to_text(question.rdtype)
        if name == "silent.acme.test.":
            return
        response = dns.message.make_response(query)
        if name == "broken.acme.test.":
            response.set_rcode(dns.rcode.SERVFAIL)
        elif (name, kind) in RECORDS:
            response.answer.append(dns.rrset.from_text_list(name, 60, "IN", kind, RECORDS[(name, kind)]))
        elif not any(known == name for known, _kind in RECORDS):
            response.set_rcode(dns.rcode.NXDOMAIN)
        self.transport.sendto(response.to_wire(), addr)


@pytest.fixture
async def server_port() -> AsyncIterator[int]:
    loop = asyncio.get_running_loop()
    transport, _protocol = await loop.create_datagram_endpoint(Responder, local_addr=("127.0.0.1", 0))
    yield transport.get_extra_info("sockname")[1]
    transport.close()


def dns_check(port: int, query: str, record_type: str = "A", **fields: Any) -> Any:
    return parse_check(
        {
            "id": "dns",
            "kind": "dns",
            "query": query,
            "record_type": record_type,
            "server": "127.0.0.1",
            "server_port": port,
            "timeout": "1s",
            "interval": "10s",
            **fields,
        }
    )


@pytest.mark.parametrize(
    ("query", "record_type", "answers"),
    [
        ("www.acme.test", "A", "192.0.2.10, 192.0.2.11"),
        ("www.acme.test", "AAAA", "2001:db8::10"),
        ("acme.test", "MX", "10 mail.acme.test"),
        ("acme.test", "TXT", "v=spf1 -all"),
        ("acme.test", "NS", "ns1.acme.test"),
        ("alias.acme.test", "CNAME", "www.acme.test"),
    ],
)
async def test_record_types(
    server_port: int, context: ProbeContext, query: str, record_type: str, answers: str
) -> None:
    result = await run_check(dns_check(server_port, query, record_type), context)
    assert result.status == "up", result.error
    assert result.detail["answers"] == answers
    assert result.detail["rcode"] == "NOERROR"
    assert result.metrics["query_ms"] > 0


async def test_expected_values(server_port: int, context: ProbeContext) -> None:
    good = await run_check(dns_check(server_port, "www.acme.test", expect=["192.0.2.11"]), context)
    assert good.status == "up"
    bad = await run_check(dns_check(server_port, "www.acme.test", expect=["192.0.2.99"]), context)
    assert bad.error == "expected 192.0.2.99 in the A answer, got 192.0.2.10, 192.0.2.11"


async def test_nxdomain_and_servfail_are_distinct(server_port: int, context: ProbeContext) -> None:
    missing = await run_check(dns_check(server_port, "nope.acme.test"), context)
    assert missing.error == "NXDOMAIN: nope.acme.test does not exist (server 127.0.0.1)"
    broken = await run_check(dns_check(server_port, "broken.acme.test"), context)
    assert broken.error == "SERVFAIL: name server 127.0.0.1 failed to resolve broken.acme.test"
    empty = await run_check(dns_check(server_port, "www.acme.test", "MX"), context)
    assert empty.error == "no MX record for www.acme.test"


async def test_conditions(server_port: int, context: ProbeContext) -> None:
    wanted = await run_check(
        dns_check(server_port, "nope.acme.test", conditions=["[DNS_RCODE] == NXDOMAIN"]), context
    )
    assert wanted.status == "up", wanted.error
    body = await run_check(
        dns_check(server_port, "www.acme.test", conditions=["[BODY] == pat(192.0.2.*)"]), context
    )
    assert body.status == "up", body.error


async def test_silent_server(server_port: int, context: ProbeContext) -> None:
    result = await run_check(
        dns_check(server_port, "silent.acme.test", timeout="300ms", interval="5s"), context
    )
    assert result.status == "down"
    assert result.error in ("no answer from name server 127.0.0.1 within 0.3s", "timed out after 0.3s")
