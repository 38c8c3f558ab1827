"""Per-(check, agent) state under explicit failure and success thresholds.

A check's state at one location moves to `down` only after `failure_threshold`
consecutive failures, and back only after `success_threshold` consecutive
non-failures. The very first result is believed at once when it is a success
(a new agent should not sit in "unknown" for two intervals), but a first
failure still has to reach the threshold, like any other.

Two optional rules refine what counts as a failure (`AlertRules`):
- a failure rate: down once `failures` of the last `window` results failed,
  even if they never came in a row (a flapping endpoint), and not back up
  while the window still holds that many;
- metric thresholds with a duration (`latency_ms > 800 for 3m`): a result
  breaching one for at least the duration counts as `degraded` (or `down`,
  per the check's `on_breach`), so one slow response is not an incident.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Literal, NamedTuple

from shared.metric_rules import MetricRule

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
    recent: str = ""  # last outcomes for the failure-rate window, newest last: u, d, g
    breaches: Mapping[str, datetime] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def initial(cls, check_id: str, agent: str, at: datetime) -> CheckState:
        return cls(check_id, agent, "unknown", at, 0, 0, at)


class Observation(NamedTuple):
    """The part of a result the thresholds look at (a tuple: ingest builds one per result)."""

    at: datetime
    status: Literal["up", "down", "degraded"]
    latency_ms: float | None = None
    error: str | None = None
    metrics: Mapping[str, float] = MappingProxyType({})


@dataclass(frozen=True)
class AlertRules:
    """A check's optional refinements: failure rate and metric thresholds."""

    rate_failures: int = 0  # 0: no failure-rate rule
    rate_window: int = 0
    metric_rules: tuple[MetricRule, ...] = ()
    on_breach: Literal["degraded", "down"] = "degraded"


NO_RULES = AlertRules()
_CODES = {"up": "u", "down": "d", "degraded": "g"}


def metric_value(rule: MetricRule, seen: Observation) -> float | None:
    """The value a rule compares: a result metric, or the result's latency for `latency_ms`."""
    if rule.metric in seen.metrics:
        return seen.metrics[rule.metric]
    if rule.metric == "latency_ms":
        return seen.latency_ms
    return None


EMPTY_BREACHES: Mapping[str, datetime] = MappingProxyType({})


def _breaches(
    breaches: Mapping[str, datetime], seen: Observation, rules: AlertRules
) -> tuple[Mapping[str, datetime], bool]:
    """Remember since when each rule has been breached; say whether one has lasted its duration."""
    if not rules.metric_rules:
        return EMPTY_BREACHES, False
    found: dict[str, datetime] = {}
    sustained = False
    for rule in rules.metric_rules:
        value = metric_value(rule, seen)
        if seen.status == "down" or value is None or not rule.breached_by(value):
            continue  # a failed result has no trustworthy metrics; an absent metric ends the breach
        since = breaches.get(rule.text, seen.at)
        found[rule.text] = since
        sustained = sustained or seen.at - since >= rule.duration
    return MappingProxyType(found), sustained


def apply_observation(
    state: CheckState,
    seen: Observation,
    failure_threshold: int,
    success_threshold: int,
    rules: AlertRules = NO_RULES,
) -> CheckState:
    """Return the state after one observation. Observations older than the state are ignored,
    so results replayed late never rewrite the present."""
    return apply_observations(state, (seen,), failure_threshold, success_threshold, rules)


def apply_observations(
    state: CheckState,
    observations: Iterable[Observation],
    failure_threshold: int,
    success_threshold: int,
    rules: AlertRules = NO_RULES,
) -> CheckState:
    """Return the state after each observation in turn (give them in event-time order).

    The same as folding `apply_observation` over them, without building the
    states in between (ingest applies hundreds of results per report). An
    observation older than the state so far is ignored.
    """
    status = state.status
    since = state.since
    failures = state.consecutive_failures
    successes = state.consecutive_successes
    last_at = state.last_result_at
    latency = state.last_latency_ms
    error = state.last_error
    recent = state.recent
    breaches = state.breaches
    changed = False
    window = rules.rate_window
    for seen in observations:
        if seen.at < last_at:
            continue
        changed = True
        breaches, sustained = _breaches(breaches, seen, rules)
        outcome = seen.status
        if sustained and outcome != "down":
            outcome = rules.on_breach
        failed = outcome == "down"
        failures = failures + 1 if failed else 0
        successes = 0 if failed else successes + 1
        recent = (recent + _CODES[outcome])[-window:] if window else ""
        rate_down = bool(rules.rate_failures) and recent.count("d") >= rules.rate_failures
        healthy: StateStatus = "degraded" if outcome == "degraded" else "up"
        new_status = status
        if failed:
            if failures >= failure_threshold or rate_down:
                new_status = "down"
        elif status in ("unknown", "up", "degraded"):
            new_status = healthy
        elif successes >= success_threshold and not rate_down:
            new_status = healthy
        if new_status != status:
            status, since = new_status, seen.at
        last_at, latency, error = seen.at, seen.latency_ms, seen.error
    if not changed:
        return state
    return CheckState(
        state.check_id,
        state.agent,
        status,
        since,
        failures,
        successes,
        last_at,
        latency,
        error,
        recent,
        breaches,
    )
