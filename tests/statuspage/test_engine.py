"""Thresholds, quorum and component status: pure functions, injected time, table-driven."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared.checks import parse_check
from statuspage.engine.check_state import CheckState, Observation, apply_observation
from statuspage.engine.component_status import (
    check_verdict,
    component_status,
    required_down_votes,
)
from tests.conftest import T0

pytestmark = pytest.mark.engines("sqlite", "postgresql")


def run(sequence: str, failure_threshold: int = 2, success_threshold: int = 2) -> str:
    """Feed 'u'/'d'/'g' (up/down/degraded) observations; return the status after each, joined."""
    names = {"u": "up", "d": "down", "g": "degraded"}
    state = CheckState.initial("c", "a", T0)
    out = []
    for index, letter in enumerate(sequence):
        seen = Observation(T0 + timedelta(seconds=index), names[letter])  # type: ignore[arg-type]
        state = apply_observation(state, seen, failure_threshold, success_threshold)
        out.append({"unknown": "?", "up": "u", "down": "d", "degraded": "g"}[state.status])
    return "".join(out)


@pytest.mark.parametrize(
    ("sequence", "ft", "st", "expected"),
    [
        ("u", 2, 2, "u"),  # first success believed at once
        ("d", 2, 2, "?"),  # first failure must reach the threshold
        ("dd", 2, 2, "?d"),
        ("ddd", 3, 2, "??d"),
        ("d", 1, 1, "d"),
        ("udu", 2, 2, "uuu"),  # a single blip is not an outage
        ("uddu", 2, 2, "uudd"),  # one success is not yet a recovery
        ("udduu", 2, 2, "uuddu"),
        ("uddududuu", 2, 2, "uuddddddu"),  # alternating never recovers
        ("uddu", 2, 1, "uudu"),
        ("ug", 2, 2, "ug"),
        ("gu", 2, 2, "gu"),
        ("uddgg", 2, 2, "uuddg"),  # degraded counts toward recovery
        ("uddgd", 2, 2, "uuddd"),
    ],
)
def test_thresholds(sequence: str, ft: int, st: int, expected: str) -> None:
    assert run(sequence, ft, st) == expected


def test_unknown_stays_unknown_until_threshold() -> None:
    state = CheckState.initial("c", "a", T0)
    state = apply_observation(state, Observation(T0, "down"), 2, 2)
    assert state.status == "unknown" and state.consecutive_failures == 1
    state = apply_observation(state, Observation(T0 + timedelta(seconds=1), "down"), 2, 2)
    assert state.status == "down" and state.since == T0 + timedelta(seconds=1)


def test_late_observation_does_not_rewrite_the_present() -> None:
    state = CheckState.initial("c", "a", T0)
    state = apply_observation(state, Observation(T0 + timedelta(seconds=10), "up"), 2, 2)
    late = apply_observation(state, Observation(T0, "down"), 1, 1)
    assert late == state


@pytest.mark.parametrize(
    ("quorum", "reporting", "needed"),
    [
        ("majority", 1, 1),
        ("majority", 2, 2),
        ("majority", 3, 2),
        ("majority", 4, 3),
        ("majority", 5, 3),
        (1, 3, 1),
        (2, 3, 2),
        (5, 3, 3),
    ],
)
def test_required_down_votes(quorum: str | int, reporting: int, needed: int) -> None:
    assert required_down_votes(quorum, reporting) == needed


CHECK = parse_check({"id": "c", "kind": "tcp", "host": "h", "port": 1, "interval": "10s"})


def state(agent: str, status: str, age_s: float = 0) -> CheckState:
    at = T0 - timedelta(seconds=age_s)
    return CheckState("c", agent, status, at, 0, 0, at)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("states", "verdict"),
    [
        ([], "unknown"),
        ([state("a", "up")], "up"),
        ([state("a", "down")], "down"),
        ([state("a", "down"), state("b", "up"), state("c", "up")], "up"),  # one location alone
        ([state("a", "down"), state("b", "down"), state("c", "up")], "down"),
        ([state("a", "down"), state("b", "up")], "up"),  # 1 of 2 is not a majority
        ([state("a", "down"), state("b", "down", age_s=31), state("c", "up")], "up"),  # stale b ignored
        ([state("a", "down"), state("b", "up", age_s=31)], "down"),  # only a reports
        ([state("a", "up", age_s=100)], "unknown"),
        ([state("a", "degraded"), state("b", "up")], "degraded"),
        ([state("a", "unknown"), state("b", "up")], "up"),
    ],
)
def test_check_verdict_quorum(states: list[CheckState], verdict: str) -> None:
    assert check_verdict(CHECK, states, T0, stale_after_intervals=3) == verdict


@pytest.mark.parametrize(
    ("verdicts", "status"),
    [
        ([], "unknown"),
        (["unknown"], "unknown"),
        (["up"], "operational"),
        (["up", "up"], "operational"),
        (["down"], "major_outage"),
        (["down", "down"], "major_outage"),
        (["down", "up"], "partial_outage"),
        (["degraded", "up"], "degraded_performance"),
        (["degraded", "down"], "partial_outage"),
        (["down", "unknown"], "major_outage"),
    ],
)
def test_component_status(verdicts: list[str], status: str) -> None:
    assert component_status(verdicts) == status  # type: ignore[arg-type]
