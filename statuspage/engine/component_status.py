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

What the public is shown (`shown_status`) is the worse of that measured status
and what the component's open incidents declare; an operator override wins
over both. Every output (page, banner, badges, feeds, v2 JSON, metrics, status
history and uptime) reads it through `statuspage.storage.status`.
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
# The page's overall status from the open incidents' impact when it is worse than the components'.
IMPACT_STATUS = {"critical": "major_outage", "major": "partial_outage", "minor": "degraded_performance"}
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


def shown_status(measured: str, declared: Iterable[str] = (), override: str | None = None) -> str:
    """The status the public sees for one component.

    `measured` is what the checks say (maintenance applied), `declared` the statuses the
    component's open public incidents set, `override` an operator's override. The override
    wins; otherwise the worst of measured and declared, the measured one on a tie (so a
    component with no data stays "no data" unless an incident says worse).
    """
    if override is not None:
        return override
    shown = measured
    for status in declared:
        if SEVERITY.get(status, 0) > SEVERITY.get(shown, 0):
            shown = status
    return shown


def page_status(component_statuses: Iterable[str], incident_impacts: Iterable[str]) -> str:
    """The page's overall status: its worst component, or worse when an open incident's impact says so.

    The banner, the v2 indicator and its description are all read from this one value, so
    they never disagree. Returns "unknown" when there is nothing to show yet.
    """
    order = ["major_outage", "partial_outage", "degraded_performance", "under_maintenance", "operational"]
    statuses = set(component_statuses)
    overall = next((s for s in order if s in statuses), "unknown")
    for impact in incident_impacts:
        from_impact = IMPACT_STATUS.get(impact)
        if from_impact and SEVERITY[from_impact] > SEVERITY.get(overall, 0):
            overall = from_impact
    return overall
