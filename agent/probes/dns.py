"""DNS probe: ask one name server for one record type; NXDOMAIN and SERVFAIL are distinct errors.

The server is the check's `server`, or the first name server of the system's
resolver configuration (/etc/resolv.conf). The query goes straight to it
(UDP, retried over TCP when truncated) so the answer's rcode is seen as sent,
not folded into "resolution failed". Metrics: `query_ms` (like blackbox_exporter's
`probe_dns_lookup_time_seconds`), `answers`.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from agent.probes import Outcome, register
from agent.probes.context import ProbeContext
from shared.checks import DnsCheck
from shared.conditions import Facts, failed_conditions

if TYPE_CHECKING:
    import dns.message

# dnspython is imported when a dns check first runs: it costs ~10 MB of RSS,
# which an agent without dns checks should not carry.


def system_nameserver() -> str:
    """The first name server the system resolver would ask. Raises OSError when there is none."""
    import dns.resolver

    try:
        servers = dns.resolver.Resolver().nameservers
    except dns.resolver.NoResolverConfiguration:
        servers = []
    if not servers:
        raise OSError("no name server configured in /etc/resolv.conf; set the check's server")
    return str(servers[0])


def answer_values(response: dns.message.Message, record_type: str) -> list[str]:
    """The answers of the asked type as people write them (trailing dots and TXT quotes removed)."""
    import dns.rdatatype

    wanted = dns.rdatatype.from_text(record_type)
    values: list[str] = []
    for rrset in response.answer:
        if rrset.rdtype != wanted:
            continue
        for rdata in rrset:
            if record_type == "TXT":
                values.append(b"".join(rdata.strings).decode("utf-8", "replace"))
            elif record_type == "MX":
                values.append(f"{rdata.preference} {rdata.exchange.to_text().rstrip('.')}")
            else:
                values.append(rdata.to_text().rstrip("."))
    return sorted(values)  # an RRset is a set: sorted, results and messages are stable


@register("dns")
async def probe_dns(check: DnsCheck, context: ProbeContext) -> Outcome:
    """Up when the server answers NOERROR with at least one record and every expected value."""
    import dns.asyncquery
    import dns.exception
    import dns.message
    import dns.rcode

    try:
        server = check.server or system_nameserver()
    except OSError as error:
        return Outcome("down", str(error))
    query = dns.message.make_query(check.query, check.record_type)
    timeout_s = check.timeout.total_seconds()
    began = time.perf_counter()
    try:
        response, _used_tcp = await dns.asyncquery.udp_with_fallback(
            query, server, timeout=timeout_s, port=check.server_port
        )
    except dns.exception.Timeout:
        return Outcome("down", f"no answer from name server {server} within {timeout_s:g}s")
    except (OSError, dns.exception.DNSException) as error:
        return Outcome("down", f"DNS query to {server} failed: {error}")
    query_ms = round((time.perf_counter() - began) * 1000, 3)
    rcode = dns.rcode.to_text(response.rcode())
    values = answer_values(response, check.record_type)
    metrics = {"query_ms": query_ms, "answers": float(len(values))}
    detail: dict[str, str | int | bool | None] = {
        "server": server,
        "rcode": rcode,
        "answers": ", ".join(values)[:2000],
    }
    facts = Facts(
        dns_rcode=rcode,
        body=values[0] if values else "",
        response_time_ms=query_ms,
        ip=values[0] if values and check.record_type in ("A", "AAAA") else None,
    )
    tests_rcode = any(c.placeholder == "DNS_RCODE" for c in check.conditions)
    problems: list[str] = []
    if not tests_rcode:
        if rcode == "NXDOMAIN":
            problems.append(f"NXDOMAIN: {check.query} does not exist (server {server})")
        elif rcode == "SERVFAIL":
            problems.append(f"SERVFAIL: name server {server} failed to resolve {check.query}")
        elif rcode != "NOERROR":
            problems.append(f"{rcode} from name server {server}")
        elif not values:
            problems.append(f"no {check.record_type} record for {check.query}")
    missing = [value for value in check.expect if value.rstrip(".") not in values]
    if missing:
        got = ", ".join(values) or "nothing"
        problems.append(f"expected {', '.join(missing)} in the {check.record_type} answer, got {got}")
    problems += failed_conditions(check.conditions, facts)
    if problems:
        return Outcome("down", "; ".join(problems), metrics, detail)
    return Outcome("up", None, metrics, detail)
