"""The snmp probe against a real snmpd (v2c community and a v3 user) started once per test session (tests/agent/conftest.py)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from agent.probes import run_check
from agent.probes.context import ProbeContext
from shared.checks import parse_check
from tests.servers import SnmpAgent

UPTIME = "1.3.6.1.2.1.1.3.0"
LOCATION = "1.3.6.1.2.1.1.6.0"
OBJECT_ID = "1.3.6.1.2.1.1.2.0"


def v2c(agent: SnmpAgent, **fields: Any) -> Any:
    return parse_check(
        {
            "id": "s",
            "kind": "snmp",
            "host": agent.host,
            "port": agent.port,
            "community": agent.community,
            "oids": [UPTIME, LOCATION],
            "interval": "10s",
            "timeout": "2s",
            **fields,
        }
    )


def v3(agent: SnmpAgent, **fields: Any) -> Any:
    return parse_check(
        {
            "id": "s3",
            "kind": "snmp",
            "host": agent.host,
            "port": agent.port,
            "version": "3",
            "user": agent.user,
            "auth_protocol": "SHA",
            "auth_key": agent.auth_key,
            "priv_protocol": "AES",
            "priv_key": agent.priv_key,
            "oids": [UPTIME, OBJECT_ID],
            "interval": "10s",
            "timeout": "2s",
            **fields,
        }
    )


async def test_v2c_get(snmpd: SnmpAgent, context: ProbeContext) -> None:
    check = v2c(snmpd, conditions=[f"[SNMP].{UPTIME} > 0", f"[SNMP].{LOCATION} == pat(*rack*)"])
    result = await run_check(check, context)
    assert result.status == "up", result.error
    assert result.detail[LOCATION] == "upwatch test rack"
    assert result.metrics[f"snmp:{UPTIME}"] > 0
    assert f"snmp:{LOCATION}" not in result.metrics


async def test_condition_names_the_value(snmpd: SnmpAgent, context: ProbeContext) -> None:
    result = await run_check(v2c(snmpd, conditions=[f"[SNMP].{LOCATION} == server room"]), context)
    assert result.status == "down"
    assert result.error == f"[SNMP].{LOCATION}: expected server room, got upwatch test rack"
    result = await run_check(v2c(snmpd, conditions=["[SNMP].1.3.6.1.2.1.1.5.0 == x"]), context)
    assert (
        result.error == "[SNMP].1.3.6.1.2.1.1.5.0: not in the SNMP response (add the OID to the check's oids)"
    )


async def test_missing_oid_is_down(snmpd: SnmpAgent, context: ProbeContext) -> None:
    result = await run_check(v2c(snmpd, oids=[UPTIME, "1.3.6.1.2.1.1.99.0"]), context)
    assert result.status == "down"
    assert (
        result.error
        == f"SNMP agent 127.0.0.1:{snmpd.port} has no value for 1.3.6.1.2.1.1.99.0 (no such object)"
    )


async def test_wrong_community_times_out(snmpd: SnmpAgent, context: ProbeContext) -> None:
    result = await run_check(v2c(snmpd, community="guess", retries=1, timeout="2s"), context)
    assert result.status == "down"
    assert result.error is not None
    # The budget is what is left of the timeout after pysnmp builds its engine: any figure, not a timing.
    assert re.fullmatch(
        rf"no SNMP response from 127\.0\.0\.1:{snmpd.port} within \d+\.\ds \(wrong community, or no SNMP agent there\)",
        result.error,
    ), result.error
    assert "guess" not in result.model_dump_json()


async def test_v3_auth_and_privacy(snmpd: SnmpAgent, context: ProbeContext) -> None:
    result = await run_check(
        v3(snmpd, conditions=[f"[SNMP].{OBJECT_ID} == pat(1.3.6.1.4.1.8072.*)"]), context
    )
    assert result.status == "up", result.error
    assert result.detail[OBJECT_ID] == "1.3.6.1.4.1.8072.3.2.10"


async def test_v3_wrong_key_and_unknown_user(snmpd: SnmpAgent, context: ProbeContext) -> None:
    wrong = await run_check(v3(snmpd, auth_key="Not-The-Key-1"), context)
    assert wrong.status == "down"
    assert wrong.error == f"SNMP v3 authentication failed at 127.0.0.1:{snmpd.port}: Wrong SNMP PDU digest"
    assert "Not-The-Key-1" not in wrong.model_dump_json()
    stranger = await run_check(v3(snmpd, user="mallory"), context)
    assert stranger.error == f"SNMP v3 authentication failed at 127.0.0.1:{snmpd.port}: Unknown USM user"


async def test_v3_keys_from_the_agent_environment(snmpd: SnmpAgent, context: ProbeContext) -> None:
    context.environ = {"UPWATCH_SECRET_SNMP_AUTH": snmpd.auth_key, "UPWATCH_SECRET_SNMP_PRIV": snmpd.priv_key}
    check = v3(
        snmpd, auth_key={"env": "UPWATCH_SECRET_SNMP_AUTH"}, priv_key={"env": "UPWATCH_SECRET_SNMP_PRIV"}
    )
    assert (await run_check(check, context)).status == "up"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"oids": ["sysUpTime.0"]}, "checks[0].oids: 'sysUpTime.0' is not a numeric OID"),
        ({"oids": []}, "checks[0].oids:"),
        ({"version": "1"}, "checks[0].version:"),
        ({"user": "ops"}, 'user: only for version = "3"'),
        ({"version": "3", "community": None}, 'user: required for version = "3"'),
        (
            {"version": "3", "community": None, "user": "u", "auth_protocol": "SHA"},
            "auth_protocol and auth_key: give both or neither",
        ),
        (
            {"version": "3", "community": None, "user": "u", "priv_protocol": "AES", "priv_key": "k"},
            "privacy needs authentication",
        ),
        ({"conditions": ["[SNMP] > 0"]}, "[SNMP] needs a numeric OID"),
        ({"conditions": ["[RESULT] == 1"]}, "[RESULT] is not available here"),
    ],
)
def test_bad_config_names_the_key(fields: dict[str, Any], message: str) -> None:
    from pydantic import ValidationError

    from shared.checks import describe_error

    agent = SnmpAgent("127.0.0.1", 161, "public", "u", "a", "p", None)  # type: ignore[arg-type]
    with pytest.raises(ValidationError) as caught:
        v2c(agent, **fields)
    assert message in describe_error(caught.value, "checks[0]")
