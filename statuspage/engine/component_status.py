"""Component status from the states of its checks at every location.

- A location whose last result is older than `stale_after_intervals` × the
  check's interval counts on neither side (it is silent, not failing).
- A check is down when at least `quorum` of the reporting locations see it down
  ("majority" = more than half). One location failing alone is a location
  problem, not an outage.
- Component: every check down, or one of its critical checks -> major_outage;
  some down -> partial_outage; any degraded -> degraded_performance;
  otherwise operational. With no reporting location at all the component is
  `unknown` ("no data"). Maintenance overrides all of it (`under_maintenance`),
  applied by the caller, which keeps the underlying health for the incident rules.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Literal

from shared.checks import AnyCheck
from statuspage.engine.check_state import CheckState

ComponentStatus = Literal[
    "operational", "degraded_performance", "partial_outage", "major_outage", "under_maintenance", "unknown"
]
# Worse is higher; `unknown` (no data) ranks with operational: silence is not an outage.
SEVERITY = {
    "unknown": 0,
    "operational": 0,
    "under_maintenance": 0,
    "degraded_performance": 1,
    "partial_outage": 2,
    "major_outage": 3,
}
CheckVerdict = Literal["up", "down", "degraded", "unknown"]


def required_down_votes(quorum: str | int, reporting: int) -> int:
    """How many reporting locations must see a check down for it to count as down."""
    if quorum == "majority":
        return reporting // 2 + 1
    return min(int(quorum), reporting)


def check_verdict(
    check: AnyCheck, states: Iterable[CheckState], now: datetime, stale_after_intervals: float
) -> CheckVerdict:
    """Combine one check's per-location states into one verdict."""
    horizon = check.interval * stale_after_intervals
    live = [s for s in states if s.status != "unknown" and now - s.last_result_at <= horizon]
    if not live:
        return "unknown"
    down = sum(1 for s in live if s.status == "down")
    if down >= required_down_votes(check.quorum, len(live)):
        return "down"
    if any(s.status == "degraded" for s in live):
        return "degraded"
    return "up"


def component_status(verdicts: list[CheckVerdict], critical: list[bool] | None = None) -> ComponentStatus:
    """Fold the verdicts of a component's checks into one public status.

    `critical[i]` marks verdicts[i] as a critical check: it alone being down is a major outage.
    """
    known = [v for v in verdicts if v != "unknown"]
    if not known:
        return "unknown"
    down = sum(1 for v in known if v == "down")
    critical_down = any(v == "down" and c for v, c in zip(verdicts, critical or [], strict=False))
    if (down and down == len(known)) or critical_down:
        return "major_outage"
    if down:
        return "partial_outage"
    if "degraded" in known:
        return "degraded_performance"
    return "operational"
