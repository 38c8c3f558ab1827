"""SNMP probe (pysnmp, extra `upwatch[snmp]`): one GET of the check's OIDs, v2c or v3 (USM).

Up when the agent answers every OID with a value (not noSuchObject,
noSuchInstance or endOfMibView) and the conditions hold:
`[SNMP].1.3.6.1.2.1.1.3.0 > 0` compares one OID's value; integers (counters,
gauges, TimeTicks) compare as numbers, strings as text. Numeric values are also
metrics named `snmp:<oid>`, so the collector's metric thresholds can watch a
UPS's battery charge or a printer's toner level. Metrics: `query_ms` too.

v2c sends the community (default `public`). v3 authenticates with `auth_protocol`
and `auth_key`, and encrypts with `priv_protocol` and `priv_key`; AES192 and
AES256 use the key extension net-snmp uses (Blumenthal). A wrong community gets
no answer at all (agents drop such requests), so it reads as a timeout.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from typing import Any

from agent.probes import Outcome, register
from agent.probes.context import ProbeContext
from agent.probes.extras import MissingExtra
from agent.probes.verdict import judged
from agent.secrets import SecretUnavailable, reveal
from shared.checks import SnmpCheck
from shared.conditions import Facts

# Building an SnmpEngine costs about half a second of CPU: one per event loop, made on first use.
_ENGINES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = weakref.WeakKeyDictionary()
RETRY_SHARE_OF_TIMEOUT = 0.9
MAX_METRIC_NAME = 64


@register("snmp")
async def probe_snmp(check: SnmpCheck, context: ProbeContext) -> Outcome:
    """Up when every OID has a value and every condition holds."""
    try:
        from pyasn1.type import univ
        from pysnmp.hlapi.v3arch import asyncio as hlapi
        from pysnmp.proto import rfc1905
    except ImportError as error:
        raise MissingExtra("snmp", error) from None
    try:
        auth = _auth_data(hlapi, check, context)
    except SecretUnavailable as error:
        return Outcome("down", str(error))
    where = f"{check.host}:{check.port}"
    began = time.perf_counter()
    engine = _engine(hlapi)
    # The first run of an agent builds the engine: the tries share what is left of the timeout.
    budget_s = max(
        0.1, check.timeout.total_seconds() * RETRY_SHARE_OF_TIMEOUT - (time.perf_counter() - began)
    )
    attempt_s = budget_s / (check.retries + 1)
    began = time.perf_counter()
    try:
        target = await hlapi.UdpTransportTarget.create(
            (check.host, check.port), timeout=attempt_s, retries=check.retries
        )
    except Exception as error:  # noqa: BLE001 - pysnmp raises its own PySnmpError for a bad address
        return Outcome("down", f"cannot reach SNMP agent {where}: {error}")
    objects = [hlapi.ObjectType(hlapi.ObjectIdentity(oid)) for oid in check.oids]
    try:
        # pysnmp's own retransmission timer runs on a coarse tick: bound the whole exchange here.
        async with asyncio.timeout(budget_s):
            indication, status, index, bindings = await hlapi.get_cmd(
                engine, auth, target, hlapi.ContextData(contextName=check.context), *objects, lookupMib=False
            )
    except TimeoutError:
        return Outcome("down", _no_response(check, where, budget_s))
    query_ms = (time.perf_counter() - began) * 1000
    if indication is not None:
        return Outcome("down", _indication(indication, check, where, budget_s))
    if status:
        failed = check.oids[int(index) - 1] if index and int(index) <= len(check.oids) else "the request"
        return Outcome("down", f"SNMP agent {where} answered {status.prettyPrint()} for {failed}")
    values: dict[str, str | int | float] = {}
    missing = []
    for name, value in bindings:
        oid = str(name)
        if isinstance(value, rfc1905.NoSuchObject | rfc1905.NoSuchInstance | rfc1905.EndOfMibView):
            missing.append(f"{oid} ({_absent(value)})")
        else:
            values[oid] = _plain(value, univ)
    metrics = {"query_ms": round(query_ms, 3)}
    for oid, value in values.items():
        if isinstance(value, int | float) and len(f"snmp:{oid}") <= MAX_METRIC_NAME:
            metrics[f"snmp:{oid}"] = float(value)
    detail: dict[str, str | int | bool | None] = {
        oid: _shown(value) for oid, value in values.items() if len(oid) <= MAX_METRIC_NAME
    }
    if missing:
        return Outcome("down", f"SNMP agent {where} has no value for {', '.join(missing)}", metrics, detail)
    facts = Facts(snmp=values, response_time_ms=query_ms)
    return judged(Outcome("up", None, metrics, detail), check.conditions, facts)


def _engine(hlapi: Any) -> Any:
    loop = asyncio.get_running_loop()
    engine = _ENGINES.get(loop)
    if engine is None:
        engine = _ENGINES[loop] = hlapi.SnmpEngine()
    return engine


def _auth_data(hlapi: Any, check: SnmpCheck, context: ProbeContext) -> Any:
    if check.version == "2c":
        community = reveal(check.community, "community", context.environ) or "public"
        return hlapi.CommunityData(community, mpModel=1)
    auth_key = reveal(check.auth_key, "auth_key", context.environ)
    priv_key = reveal(check.priv_key, "priv_key", context.environ)
    auth_protocols = {
        None: hlapi.USM_AUTH_NONE,
        "MD5": hlapi.USM_AUTH_HMAC96_MD5,
        "SHA": hlapi.USM_AUTH_HMAC96_SHA,
        "SHA224": hlapi.USM_AUTH_HMAC128_SHA224,
        "SHA256": hlapi.USM_AUTH_HMAC192_SHA256,
        "SHA384": hlapi.USM_AUTH_HMAC256_SHA384,
        "SHA512": hlapi.USM_AUTH_HMAC384_SHA512,
    }
    priv_protocols = {
        None: hlapi.USM_PRIV_NONE,
        "DES": hlapi.USM_PRIV_CBC56_DES,
        "AES": hlapi.USM_PRIV_CFB128_AES,
        "AES192": hlapi.USM_PRIV_CFB192_AES_BLUMENTHAL,
        "AES256": hlapi.USM_PRIV_CFB256_AES_BLUMENTHAL,
    }
    return hlapi.UsmUserData(
        check.user,
        authKey=auth_key,
        privKey=priv_key,
        authProtocol=auth_protocols[check.auth_protocol],
        privProtocol=priv_protocols[check.priv_protocol],
    )


def _no_response(check: SnmpCheck, where: str, budget_s: float) -> str:
    hint = "wrong community, or no SNMP agent there" if check.version == "2c" else "no SNMP agent there"
    return f"no SNMP response from {where} within {budget_s:.1f}s ({hint})"


def _indication(indication: Any, check: SnmpCheck, where: str, budget_s: float) -> str:
    name = type(indication).__name__
    if name == "RequestTimedOut":
        return _no_response(check, where, budget_s)
    if name in ("WrongDigest", "UnknownUserName", "UnsupportedSecurityLevel", "DecryptionError"):
        return f"SNMP v3 authentication failed at {where}: {indication}"
    return f"SNMP request to {where} failed: {indication}"


def _absent(value: Any) -> str:
    return {"NoSuchObject": "no such object", "NoSuchInstance": "no such instance"}.get(
        type(value).__name__, "end of the MIB view"
    )


def _plain(value: Any, univ: Any) -> str | int | float:
    """An SNMP value as conditions compare it: integer kinds as int, the rest as text."""
    if isinstance(value, univ.Integer):
        return int(value)
    if isinstance(value, univ.ObjectIdentifier):
        return str(value)
    return str(value.prettyPrint())


def _shown(value: str | int | float) -> str | int:
    if isinstance(value, str):
        return value[:200]
    return int(value) if isinstance(value, int) else str(value)
