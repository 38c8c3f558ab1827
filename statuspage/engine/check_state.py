"""Per-(check, agent) state under explicit failure and success thresholds.

A check's state at one location moves to `down` only after `failure_threshold`
consecutive failures, and back only after `success_threshold` consecutive
non-failures. The very first result is believed at once when it is a success
(a new agent should not sit in "unknown" for two intervals), but a first
failure still has to reach the threshold, like any other.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

StateStatus = Literal["unknown", "up", "down", "degraded"]


@dataclass(frozen=True)
class CheckState:
    """Where one check stands at one location."""

    check_id: str
    agent: str
    status: StateStatus
    since: datetime
    consecutive_failures: int
    consecutive_successes: int
    last_result_at: datetime
    last_latency_ms: float | None = None
    last_error: str | None = None

    @classmethod
    def initial(cls, check_id: str, agent: str, at: datetime) -> CheckState:
        return cls(check_id, agent, "unknown", at, 0, 0, at)


@dataclass(frozen=True)
class Observation:
    """The part of a result the thresholds look at."""

    at: datetime
    status: Literal["up", "down", "degraded"]
    latency_ms: float | None = None
    error: str | None = None


def apply_observation(
    state: CheckState, seen: Observation, failure_threshold: int, success_threshold: int
) -> CheckState:
    """Return the state after one observation. Observations older than the state are ignored,
    so results replayed late never rewrite the present."""
    if seen.at < state.last_result_at:
        return state
    failed = seen.status == "down"
    failures = state.consecutive_failures + 1 if failed else 0
    successes = 0 if failed else state.consecutive_successes + 1
    healthy: StateStatus = "degraded" if seen.status == "degraded" else "up"
    status = state.status
    if failed:
        if failures >= failure_threshold:
            status = "down"
    elif state.status in ("unknown", "up", "degraded"):
        status = healthy
    elif successes >= success_threshold:
        status = healthy
    updated = replace(
        state,
        consecutive_failures=failures,
        consecutive_successes=successes,
        last_result_at=seen.at,
        last_latency_ms=seen.latency_ms,
        last_error=seen.error,
    )
    if status != state.status:
        updated = replace(updated, status=status, since=seen.at)
    return updated
