"""The condition language, table-driven (after Gatus' condition_test.go): one case per line."""

from __future__ import annotations

import json

import pytest

from shared.conditions import ConditionError, Facts, evaluate, failed_conditions, parse_condition

BODY = json.dumps(
    {
        "status": "UP",
        "data": [{"id": 42, "name": "john-doe"}, {"id": 7, "name": "jane"}],
        "items": ["a", "b", "c"],
        "count": 3,
        "ok": True,
        "nothing": None,
        "nested": {"deep": {"value": 1.5}},
        "version": "v2.3.1",
    }
)
HOUR_MS = 3600 * 1000.0
FACTS = Facts(
    status=200,
    response_time_ms=120.0,
    body=BODY,
    headers={"Content-Type": "application/json; charset=utf-8", "X-Count": "12"},
    certificate_expiration_ms=72 * HOUR_MS,
    connected=True,
    ip="127.0.0.1",
    dns_rcode="NOERROR",
)

# (condition, expected explanation or None when it holds)
CASES: list[tuple[str, str | None]] = [
    ("[STATUS] == 200", None),
    ("[STATUS]==200", None),
    ("[STATUS] != 500", None),
    ("[STATUS] == 201", "[STATUS]: expected 201, got 200"),
    ("[STATUS] != 200", "[STATUS]: expected not 200, got 200"),
    ("[STATUS] < 300", None),
    ("[STATUS] <= 200", None),
    ("[STATUS] >= 200", None),
    ("[STATUS] > 200", "[STATUS]: expected > 200, got 200"),
    ("[STATUS] < 200", "[STATUS]: expected < 200, got 200"),
    ("[STATUS] == any(200, 204)", None),
    ("[STATUS] == any(201,204)", "[STATUS]: expected any(201,204), got 200"),
    ("[STATUS] != any(500, 503)", None),
    ("[STATUS] == pat(2*)", None),
    ("[STATUS] == pat(4*)", "[STATUS]: expected pat(4*), got 200"),
    ("[RESPONSE_TIME] < 300", None),
    ("[RESPONSE_TIME] < 100", "[RESPONSE_TIME]: expected < 100, got 120ms"),
    ("[RESPONSE_TIME] < 1s", None),
    ("[RESPONSE_TIME] <= 120ms", None),
    ("[RESPONSE_TIME] > 50", None),
    ("[BODY].status == UP", None),
    ("[BODY].status == DOWN", "[BODY].status: expected DOWN, got UP"),
    ("[BODY].status != DOWN", None),
    ("[BODY].status == pat(U*)", None),
    ("[BODY].status == any(UP, OK)", None),
    ("[BODY].data[0].id == 42", None),
    ("[BODY].data[1].id == 42", "[BODY].data[1].id: expected 42, got 7"),
    ("[BODY].data[0].id > 40", None),
    ("[BODY].data[-1].name == jane", None),
    ("[BODY].data[0].name == pat(john*)", None),
    ("[BODY].data[2].id == 1", "[BODY].data[2].id: not found in the response body"),
    ("[BODY].items[-1] == c", None),
    ("[BODY].items[0] == b", "[BODY].items[0]: expected b, got a"),
    ("[BODY].missing == x", "[BODY].missing: not found in the response body"),
    ("[BODY].count == 3", None),
    ("[BODY].count == 3.0", None),
    ("[BODY].count >= 3", None),
    ("[BODY].ok == true", None),
    ("[BODY].ok == false", "[BODY].ok: expected false, got true"),
    ("[BODY].nothing == null", None),
    ("[BODY].nested.deep.value == 1.5", None),
    ("[BODY].nested.deep.value < 1", "[BODY].nested.deep.value: expected < 1, got 1.5"),
    ("[BODY].version == pat(v2.*)", None),
    ("[BODY].version > 1", "[BODY].version: expected > 1, got v2.3.1"),
    ("[BODY].status.inner == x", "[BODY].status.inner: not found in the response body"),
    ('[BODY] == pat(*"status"*)', None),
    ("[BODY] != pat(*error*)", None),
    ("len([BODY].items) == 3", None),
    ("len([BODY].items) > 3", "len([BODY].items): expected > 3, got 3"),
    ("len([BODY].data) == 2", None),
    ("len([BODY].status) == 2", None),
    ("len([BODY].count) == 1", None),
    ("len([BODY]) > 10", None),
    ("has([BODY].status) == true", None),
    ("has([BODY].error) == false", None),
    ("has([BODY].error) == true", "has([BODY].error): expected true, got false"),
    ("[HEADER].content-type == pat(*json*)", None),
    ("[HEADER].Content-Type == pat(*json*)", None),
    (
        "[HEADER].content-type == pat(*html*)",
        "[HEADER].content-type: expected pat(*html*), got application/json; charset=utf-8",
    ),
    ("[HEADER].x-count > 10", None),
    ("[HEADER].x-missing == a", "[HEADER].x-missing: header not present in the response"),
    ("has([HEADER].x-missing) == false", None),
    ("[CERTIFICATE_EXPIRATION] > 48h", None),
    ("[CERTIFICATE_EXPIRATION] > 4d", "[CERTIFICATE_EXPIRATION]: expected > 4d, got 3d"),
    ("[CERTIFICATE_EXPIRATION] > 3600000", None),
    ("[CONNECTED] == true", None),
    ("[CONNECTED] == false", "[CONNECTED]: expected false, got true"),
    ("[IP] == 127.0.0.1", None),
    ("[IP] == pat(127.*)", None),
    ("[DNS_RCODE] == NOERROR", None),
    ("[DNS_RCODE] == NXDOMAIN", "[DNS_RCODE]: expected NXDOMAIN, got NOERROR"),
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[case[0] for case in CASES])
def test_condition_evaluates(text: str, expected: str | None) -> None:
    assert evaluate(parse_condition(text), FACTS) == expected


INVALID: list[tuple[str, str]] = [
    ("", "empty condition"),
    ("   ", "empty condition"),
    ("[STATUS]", "no comparison operator"),
    ("[STATUS] 200", "no comparison operator"),
    ("[STATUS] == ", "nothing right of the operator"),
    ("== 200", "nothing left of the operator"),
    ("[STATUS] == 200 == 300", "more than one operator"),
    ("[STATUS] === 200", "stray '=' after the operator"),
    ("[FOO] == 1", "unknown placeholder [FOO]"),
    ("[status] == 200", "expected a placeholder"),
    ("STATUS == 200", "the left side must be a placeholder"),
    ("200 == [STATUS]", "the left side must be a placeholder"),
    ("[STATUS].x == 200", "[STATUS] takes no path"),
    ("[HEADER] == x", "[HEADER] needs a header name"),
    ("[HEADER].a b == x", "[HEADER] needs a header name"),
    ("[BODY].data[x] == 1", "invalid JSON path"),
    ("[BODY]..a == 1", "invalid JSON path"),
    ("[BODY].data[0 == 1", "unbalanced"),
    ("[BODY].data]0[ == 1", "unbalanced"),
    ("len([BODY].items == 3", "unbalanced"),
    ("len(foo) == 3", "expected a placeholder"),
    ("[STATUS] < abc", "needs a number on the right"),
    ("[BODY].count > many", "needs a number on the right"),
    ("[STATUS] < pat(2*)", "pat() works only with == or !="),
    ("[STATUS] > any(1, 2)", "any() works only with == or !="),
    ("[STATUS] == any()", "any() needs comma-separated values"),
    ("[STATUS] == any(1,,2)", "any() needs comma-separated values"),
    ("[STATUS] == pat()", "pat() needs a pattern"),
    ("pat(*) == [STATUS]", "belongs on the right side"),
    ("[STATUS] == [BODY].x", "the right side must be a constant"),
    ("[CERTIFICATE_EXPIRATION] > soon", "neither a number of milliseconds nor a duration"),
    ("[RESPONSE_TIME] < 3 parsecs", "neither a number of milliseconds nor a duration"),
    ("[CONNECTED] == yes", "compares with == true or == false"),
    ("[CONNECTED] > 1", "compares with == true or == false"),
    ("has([BODY].x) == 1", "compares with == true or == false"),
    ("[STATUS] == 2" + "0" * 600, "longer than 500 characters"),
]


@pytest.mark.parametrize(("text", "fragment"), INVALID, ids=[case[0][:40] or "empty" for case in INVALID])
def test_invalid_condition_is_rejected_naming_it(text: str, fragment: str) -> None:
    with pytest.raises(ConditionError) as raised:
        parse_condition(text)
    message = str(raised.value)
    assert fragment in message
    if text.strip() and len(text) < 500:
        assert repr(text.strip()) in message  # the message names the condition


def test_missing_measurements_are_explained() -> None:
    empty = Facts()
    assert evaluate(parse_condition("[STATUS] == 200"), empty) == "[STATUS]: not measured (no HTTP response)"
    assert evaluate(parse_condition("[BODY].a == 1"), empty) == "[BODY].a: no response body"
    assert evaluate(parse_condition("[BODY].a == 1"), Facts(body=b"<html>")) == (
        "[BODY].a: the response body is not JSON"
    )


def test_failed_conditions_lists_every_failure() -> None:
    conditions = [parse_condition(text) for text in ("[STATUS] == 200", "[STATUS] == 201", "[IP] == ::1")]
    assert failed_conditions(conditions, FACTS) == [
        "[STATUS]: expected 201, got 200",
        "[IP]: expected ::1, got 127.0.0.1",
    ]


def test_condition_round_trips_as_its_text() -> None:
    from shared.checks import parse_check

    check = parse_check({"id": "a", "kind": "http", "url": "http://x", "conditions": ["[STATUS] == 200"]})
    dumped = check.model_dump(mode="json")
    assert dumped["conditions"] == ["[STATUS] == 200"]
    assert parse_check(dumped) == check
