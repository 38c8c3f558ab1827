"""The service kinds' placeholders, table-driven: [RESULT], [ROWS], [SNMP].<oid>,
[DOMAIN_EXPIRATION] and the container ones. One case per line."""

from __future__ import annotations

import pytest

from shared.conditions import ConditionError, Facts, evaluate, parse_condition

HOUR_MS = 3600 * 1000.0
FACTS = Facts(
    result="PONG",
    rows=3,
    snmp={"1.3.6.1.2.1.1.3.0": 182, "1.3.6.1.2.1.1.6.0": "rack 4", "1.3.6.1.2.1.33.1.2.4.0": 35},
    domain_expiration_ms=164 * HOUR_MS,
    container_state="running",
    container_health="unhealthy",
    restart_count=7,
)

CASES: list[tuple[str, str | None]] = [
    ("[RESULT] == PONG", None),
    ("[RESULT] == pat(PO*)", None),
    ("[RESULT] == 1", "[RESULT]: expected 1, got PONG"),
    ("[ROWS] >= 1", None),
    ("[ROWS] == 0", "[ROWS]: expected 0, got 3"),
    ("[SNMP].1.3.6.1.2.1.1.3.0 > 0", None),
    ("[SNMP].1.3.6.1.2.1.1.6.0 == rack 4", None),
    ("[SNMP].1.3.6.1.2.1.33.1.2.4.0 >= 50", "[SNMP].1.3.6.1.2.1.33.1.2.4.0: expected >= 50, got 35"),
    (
        "[SNMP].1.3.6.1.2.1.1.5.0 == core",
        "[SNMP].1.3.6.1.2.1.1.5.0: not in the SNMP response (add the OID to the check's oids)",
    ),
    ("[DOMAIN_EXPIRATION] > 72h", None),
    ("[DOMAIN_EXPIRATION] > 720h", "[DOMAIN_EXPIRATION]: expected > 720h, got 6d 20h"),
    ("[DOMAIN_EXPIRATION] > 100", None),
    ("[CONTAINER_STATE] == running", None),
    ("[CONTAINER_STATE] == any(exited, dead)", "[CONTAINER_STATE]: expected any(exited, dead), got running"),
    ("[CONTAINER_HEALTH] == healthy", "[CONTAINER_HEALTH]: expected healthy, got unhealthy"),
    ("[RESTART_COUNT] < 5", "[RESTART_COUNT]: expected < 5, got 7"),
    ("len([RESULT]) == 4", None),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_service_placeholders(text: str, expected: str | None) -> None:
    assert evaluate(parse_condition(text), FACTS) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("[SNMP] > 0", "[SNMP] needs a numeric OID"),
        ("[SNMP].sysUpTime.0 > 0", "[SNMP] needs a numeric OID"),
        ("[ROWS].x > 1", "[ROWS] takes no path"),
        ("[DOMAIN_EXPIRATION] > soon", "neither a number of milliseconds nor a duration"),
        ("[RESTART_COUNT] < few", "< needs a number on the right"),
    ],
)
def test_invalid_service_conditions(text: str, reason: str) -> None:
    with pytest.raises(ConditionError, match=reason.replace("[", r"\[").replace("]", r"\]")):
        parse_condition(text)


def test_unmeasured_service_values_say_why() -> None:
    empty = Facts()
    assert evaluate(parse_condition("[ROWS] > 0"), empty) == "[ROWS]: not measured (no query result)"
    assert evaluate(parse_condition("[SNMP].1.3.6.1.2.1.1.3.0 > 0"), empty) == (
        "[SNMP].1.3.6.1.2.1.1.3.0: not measured (no SNMP response)"
    )
    assert evaluate(parse_condition("[CONTAINER_HEALTH] == healthy"), empty) == (
        "[CONTAINER_HEALTH]: not measured (the container has no health check)"
    )
