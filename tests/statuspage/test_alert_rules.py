"""Failure-rate windows, metric thresholds with durations, escalation timing and maintenance
occurrences: pure functions with an injected time, table-driven."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.metric_rules import parse_metric_rule
from statuspage.engine.check_state import AlertRules, CheckState, Observation, apply_observation
from statuspage.engine.component_status import component_status
from statuspage.engine.escalation import first_due, next_step
from statuspage.engine.maintenance_windows import occurrences
from statuspage.respond_config import EscalationPolicyConfig, MaintenanceConfig
from tests.conftest import T0

CODES = {"unknown": "?", "up": "u", "down": "d", "degraded": "g"}


def run(sequence: str, rules: AlertRules, ft: int = 2, st: int = 2, step_s: float = 60) -> str:
    """Feed u/d/s ('s' = up but slow: latency 1000 ms); return the status after each, joined."""
    state = CheckState.initial("c", "a", T0)
    out = []
    for index, letter in enumerate(sequence):
        status = "down" if letter == "d" else "up"
        latency = 1000.0 if letter == "s" else 100.0
        seen = Observation(T0 + timedelta(seconds=index * step_s), status, latency)  # type: ignore[arg-type]
        state = apply_observation(state, seen, ft, st, rules)
        out.append(CODES[state.status])
    return "".join(out)


RATE = AlertRules(rate_failures=3, rate_window=5)
RATE_10 = AlertRules(rate_failures=3, rate_window=10)
SLOW_3M = AlertRules(metric_rules=(parse_metric_rule("latency_ms > 800 for 3m"),))
SLOW_NOW_DOWN = AlertRules(metric_rules=(parse_metric_rule("latency_ms > 800"),), on_breach="down")


@pytest.mark.parametrize(
    ("sequence", "rules", "expected"),
    [
        ("ududu", RATE, "uuuuu"),  # 2 of 5: below the rate
        ("ududud", RATE, "uuuuud"),  # the 3rd failure in 5 trips it, never two in a row
        ("udududuu", RATE, "uuuuuddu"),  # 2 successes, and the window is down to 2 failures
        ("udududuu", RATE_10, "uuuuuddd"),  # 2 successes, but the window still holds 3 failures
        ("udududuuuuuu", RATE_10, "uuuuuddddddu"),  # ...until one rolls out of the window
        ("usss", SLOW_3M, "uuuu"),  # slow for 2 minutes: not yet
        ("ussss", SLOW_3M, "uuuug"),  # slow for 3 minutes: degraded
        ("ussssu", SLOW_3M, "uuuugu"),  # fast again: healthy at once
        ("usssusss", SLOW_3M, "uuuuuuuu"),  # a fast result restarts the clock
        ("us", SLOW_NOW_DOWN, "uu"),  # on_breach = down still needs failure_threshold
        ("uss", SLOW_NOW_DOWN, "uud"),
    ],
)
def test_failure_rate_and_metric_rules(sequence: str, rules: AlertRules, expected: str) -> None:
    assert run(sequence, rules) == expected


def test_metric_rule_on_a_reported_metric() -> None:
    rules = AlertRules(metric_rules=(parse_metric_rule("first_byte_ms >= 500"),))
    state = CheckState.initial("c", "a", T0)
    state = apply_observation(state, Observation(T0, "up", 10, None, {"first_byte_ms": 600.0}), 2, 2, rules)
    assert state.status == "degraded"
    state = apply_observation(state, Observation(T0 + timedelta(seconds=1), "up", 10, None, {}), 2, 2, rules)
    assert state.status == "up" and dict(state.breaches) == {}


@pytest.mark.parametrize(
    "text",
    [
        "latency_ms",
        "latency_ms > fast",
        "> 800",
        "latency_ms > 800 for ever",
        "latency_ms = 800",
        "x" * 70 + " > 1",
    ],
)
def test_bad_metric_rules_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="invalid metric threshold"):
        parse_metric_rule(text)


@pytest.mark.parametrize(
    ("verdicts", "critical", "status"),
    [
        (["down", "up"], [False, False], "partial_outage"),
        (["down", "up"], [True, False], "major_outage"),
        (["up", "down"], [True, False], "partial_outage"),
        (["degraded", "up"], [True, False], "degraded_performance"),
    ],
)
def test_critical_checks(verdicts: list[str], critical: list[bool], status: str) -> None:
    assert component_status(verdicts, critical) == status  # type: ignore[arg-type]


POLICY = EscalationPolicyConfig.model_validate(
    {
        "id": "ops",
        "levels": [{"channels": ["chat"], "after": "0s"}, {"channels": ["pager"], "after": "15m"}],
        "repeat": 1,
        "repeat_after": "30m",
    }
)


@pytest.mark.parametrize(
    ("level", "round_", "expected"),
    [
        (-1, 0, (0, 0, ("chat",), 15 * 60)),  # first page; level 1 due 15 min later
        (0, 0, (1, 0, ("pager",), 30 * 60)),  # last level; the repeat starts 30 min later
        (1, 0, (0, 1, ("chat",), 15 * 60)),  # the repeat
        (0, 1, (1, 1, ("pager",), None)),  # last level of the last round
        (1, 1, None),  # done
    ],
)
def test_escalation_steps(level: int, round_: int, expected: tuple | None) -> None:
    step = next_step(POLICY, level, round_, T0)
    if expected is None:
        assert step is None
        return
    assert step is not None
    delay = (step.next_at - T0).total_seconds() if step.next_at else None
    assert (step.level, step.round, step.channels, delay) == expected


def test_escalation_walk_with_clock() -> None:
    """Opened at T0, never acknowledged: pages at 0, 15m, 45m, 60m, then stops."""
    due = first_due(POLICY, T0)
    level, round_, fired = -1, 0, []
    now = T0
    while now <= T0 + timedelta(hours=3):
        if due is not None and now >= due:
            step = next_step(POLICY, level, round_, now)
            if step is None:
                break
            fired.append((int((now - T0).total_seconds() // 60), step.channels))
            level, round_, due = step.level, step.round, step.next_at
        now += timedelta(minutes=1)
    assert fired == [(0, ("chat",)), (15, ("pager",)), (45, ("chat",)), (60, ("pager",))]


def window(**fields: object) -> MaintenanceConfig:
    return MaintenanceConfig.model_validate({"id": "w", "title": "t", "components": ["api"], **fields})


@pytest.mark.parametrize(
    ("fields", "now", "expected_starts"),
    [
        # Sundays 02:00 Berlin = 01:00 UTC in winter; T0 is Friday 2026-11-27 12:00 UTC.
        ({"schedule": "0 2 * * sun", "duration": "1h", "tz": "Europe/Berlin"}, T0, ["2026-11-29T01:00"]),
        # Already running: found too.
        (
            {"schedule": "0 11 * * *", "duration": "2h"},
            T0,
            ["2026-11-27T11:00", "2026-11-28T11:00", "2026-11-29T11:00"],
        ),
        # Summer time: 02:00 Berlin = 00:00 UTC.
        (
            {"schedule": "0 2 1 7 *", "duration": "1h", "tz": "Europe/Berlin"},
            datetime(2027, 6, 30, tzinfo=UTC),
            ["2027-07-01T00:00"],
        ),
        ({"start": "2026-11-27T13:00:00+00:00", "duration": "30m"}, T0, ["2026-11-27T13:00"]),
        ({"start": "2026-11-27T10:00:00+00:00", "duration": "30m"}, T0, []),  # over
    ],
)
def test_maintenance_occurrences(fields: dict, now: datetime, expected_starts: list[str]) -> None:
    found = occurrences(window(**fields), now, timedelta(days=2))
    assert [o.starts_at.strftime("%Y-%m-%dT%H:%M") for o in found] == expected_starts


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"schedule": "61 * * * *", "duration": "1h"}, "invalid cron"),
        ({"schedule": "0 2 * * *", "duration": "1h", "tz": "Mars/Base"}, "unknown time zone"),
        ({"duration": "1h"}, "exactly one of schedule"),
        ({"schedule": "0 2 * * *", "duration": "10s"}, "between 1m and 7d"),
    ],
)
def test_bad_maintenance_config(fields: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        window(**fields)


@pytest.mark.parametrize(
    "sequence",
    ["uddudsssuu", "ssssdduuss", "dudududduu", "uuuussssssdd"],
)
def test_a_batch_of_observations_ends_where_one_at_a_time_does(sequence: str) -> None:
    """Ingest applies a report's results in one call; the state (counters, window, breaches,
    since) must be the one that folding them one by one reaches, late observations included."""
    from statuspage.engine.check_state import apply_observations

    rules = AlertRules(
        rate_failures=2, rate_window=4, metric_rules=(parse_metric_rule("latency_ms > 800 for 2m"),)
    )
    seen = [
        Observation(
            T0 + timedelta(seconds=60 * index),
            "down" if letter == "d" else "up",
            1000.0 if letter == "s" else 9.0,
        )
        for index, letter in enumerate(sequence)
    ]
    seen.insert(3, Observation(T0, "down"))  # late: ignored either way
    one_by_one = CheckState.initial("c", "a", T0)
    for observation in seen:
        one_by_one = apply_observation(one_by_one, observation, 2, 2, rules)
    assert apply_observations(CheckState.initial("c", "a", T0), seen, 2, 2, rules) == one_by_one
