"""Domain probe: the registration's expiry date from RDAP (RFC 9083), the registries' JSON protocol.

The RDAP server is the check's `rdap_server` (a base URL; the probe asks
`<base>/domain/<name>`), or else the one the IANA bootstrap registry names for
the domain's TLD (RFC 9224): the agent then fetches `rdap_bootstrap` (by default
https://data.iana.org/rdap/dns.json) and keeps it for a day. `[DOMAIN_EXPIRATION]`
is the time left until the `expiration` event; without a condition on it, the
check is down when less than `min_days_left` remain. Metrics: `days_left`,
`query_ms`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import aiohttp

from agent.probes import Outcome, register
from agent.probes.context import ProbeContext
from agent.probes.verdict import judged
from shared.checks import DomainCheck
from shared.conditions import Facts
from shared.timeutil import format_duration, from_iso

RDAP_ACCEPT = "application/rdap+json, application/json;q=0.9"
BOOTSTRAP_MAX_AGE = timedelta(days=1)
MAX_RDAP_BYTES = 2 * 1024 * 1024


class RdapError(Exception):
    """The RDAP exchange failed; the message says how, in words for an alert."""


@dataclass
class _Bootstrap:
    fetched_at: datetime
    services: list[tuple[list[str], list[str]]]


# One bootstrap file per URL for the agent process (IANA asks clients to cache it).
_BOOTSTRAPS: dict[str, _Bootstrap] = {}


@register("domain")
async def probe_domain(check: DomainCheck, context: ProbeContext) -> Outcome:
    """Up when the registry answers and the registration has at least `min_days_left` left."""
    began = time.perf_counter()
    try:
        base = check.rdap_server or await _server_from_bootstrap(check, context)
        url = f"{base.rstrip('/')}/domain/{check.domain}"
        document = await _get_json(context.session, url, f"RDAP server {base}")
    except RdapError as error:
        return Outcome("down", str(error))
    query_ms = (time.perf_counter() - began) * 1000
    expires_at = _event_date(document, "expiration")
    detail: dict[str, str | int | bool | None] = {
        "rdap_url": url,
        "status": ", ".join(str(s) for s in document.get("status", []) if isinstance(s, str))[:500],
        "registrar": _registrar(document),
        "expires_at": expires_at.isoformat() if expires_at else None,
    }
    metrics = {"query_ms": round(query_ms, 3)}
    if expires_at is None:
        return Outcome(
            "down",
            f"the RDAP answer for {check.domain} has no expiration event (the registry may not publish it)",
            metrics,
            detail,
        )
    left = expires_at - context.clock()
    metrics["days_left"] = round(left.total_seconds() / 86400, 3)
    facts = Facts(domain_expiration_ms=left.total_seconds() * 1000, response_time_ms=query_ms)
    outcome = Outcome("up", None, metrics, detail)
    tests_expiry = any(c.placeholder == "DOMAIN_EXPIRATION" for c in check.conditions)
    if left <= timedelta(0):
        outcome = Outcome(
            "down", f"the registration of {check.domain} expired on {expires_at:%Y-%m-%d}", metrics, detail
        )
    elif not tests_expiry and left < timedelta(days=check.min_days_left):
        message = (
            f"the registration of {check.domain} expires in {format_duration(left)} ({expires_at:%Y-%m-%d}),"
            f" less than {check.min_days_left:g} days"
        )
        outcome = Outcome("down", message, metrics, detail)
    return judged(outcome, check.conditions, facts)


async def _server_from_bootstrap(check: DomainCheck, context: ProbeContext) -> str:
    """The RDAP base URL IANA's bootstrap registry lists for the longest matching suffix."""
    now = context.clock()
    cached = _BOOTSTRAPS.get(check.rdap_bootstrap)
    if cached is None or now - cached.fetched_at > BOOTSTRAP_MAX_AGE:
        document = await _get_json(context.session, check.rdap_bootstrap, "the RDAP bootstrap registry")
        cached = _Bootstrap(now, _services(document, check.rdap_bootstrap))
        _BOOTSTRAPS[check.rdap_bootstrap] = cached
    labels = check.domain.split(".")
    for start in range(1, len(labels)):
        suffix = ".".join(labels[start:])
        for entries, urls in cached.services:
            if suffix in entries and urls:
                # RFC 9224 section 4: prefer https when both schemes are listed.
                return next((u for u in urls if u.startswith("https://")), urls[0])
    raise RdapError(
        f"no RDAP server for .{labels[-1]} in the bootstrap registry {check.rdap_bootstrap}; set rdap_server"
    )


def _services(document: Any, url: str) -> list[tuple[list[str], list[str]]]:
    services = document.get("services") if isinstance(document, dict) else None
    if not isinstance(services, list):
        raise RdapError(f"the RDAP bootstrap registry {url} has no services list")
    parsed = []
    for service in services:
        if isinstance(service, list) and len(service) >= 2:
            entries, urls = service[0], service[1]
            if isinstance(entries, list) and isinstance(urls, list):
                parsed.append(([str(e).lower() for e in entries], [str(u) for u in urls]))
    return parsed


async def _get_json(session: aiohttp.ClientSession, url: str, what: str) -> dict[str, Any]:
    try:
        async with session.get(url, headers={"Accept": RDAP_ACCEPT}) as response:
            body = await response.content.read(MAX_RDAP_BYTES)
            if response.status == 404:
                raise RdapError(f"{what} answered 404: the domain is not registered there")
            if response.status == 429:
                raise RdapError(f"{what} is rate-limiting this agent (HTTP 429); check less often")
            if response.status >= 400:
                raise RdapError(f"{what} answered HTTP {response.status}")
    except aiohttp.ClientError as error:
        raise RdapError(f"cannot reach {what}: {error or type(error).__name__}") from None
    try:
        document = json.loads(body)
    except ValueError:
        raise RdapError(f"{what} answered something that is not JSON") from None
    if not isinstance(document, dict):
        raise RdapError(f"{what} answered JSON that is not an object")
    return document


def _event_date(document: dict[str, Any], action: str) -> datetime | None:
    for event in document.get("events", []) or []:
        if isinstance(event, dict) and event.get("eventAction") == action:
            try:
                # RDAP dates are RFC 3339; "Z" and fractions are read by fromisoformat since 3.11.
                return from_iso(str(event.get("eventDate")))
            except ValueError:
                return None
    return None


def _registrar(document: dict[str, Any]) -> str | None:
    """The registrar's name from its jCard (RFC 7095), as registries of gTLDs publish it."""
    for entity in document.get("entities", []) or []:
        if not isinstance(entity, dict) or "registrar" not in (entity.get("roles") or []):
            continue
        card = entity.get("vcardArray")
        if isinstance(card, list) and len(card) == 2 and isinstance(card[1], list):
            for item in card[1]:
                if isinstance(item, list) and len(item) >= 4 and item[0] == "fn":
                    return str(item[3])[:200]
        return str(entity.get("handle") or "")[:200] or None
    return None
