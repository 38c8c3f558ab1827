"""SLA arithmetic: uptime, error budget, burn rate, MTTA, MTTR, longest outage.

Pure functions over time intervals; callers pass `now` (read once) and the
facts. Conventions, chosen to match what Atlassian Statuspage shows customers:

- Downtime is weighted by component status: `major_outage` counts fully,
  `partial_outage` counts `PARTIAL_OUTAGE_WEIGHT` (0.3), degraded performance
  and maintenance do not count as downtime.
- Maintenance windows are removed from both sides: the time is neither
  downtime nor part of the measured period ("uptime excludes maintenance").
- Overlapping outages are not double counted: at each moment the worst status wins.
- A period still running is measured up to `now`, never into the future.
- Calendar periods (month, quarter, year) are cut in the report's time zone,
  so "November" in Europe/Berlin starts at 2026-10-31T23:00Z; leap days are
  ordinary days of February.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

PARTIAL_OUTAGE_WEIGHT = 0.3
STATUS_WEIGHT = {"major_outage": 1.0, "partial_outage": PARTIAL_OUTAGE_WEIGHT}
PeriodKind = Literal["month", "quarter", "year"]


@dataclass(frozen=True)
class Interval:
    """A span of time [start, end) with a component status (or "maintenance")."""

    start: datetime
    end: datetime
    status: str = "major_outage"

    def clip(self, start: datetime, end: datetime) -> Interval | None:
        lo, hi = max(self.start, start), min(self.end, end)
        return Interval(lo, hi, self.status) if lo < hi else None


@dataclass(frozen=True)
class IncidentTimes:
    """The moments MTTA and MTTR are measured between."""

    opened_at: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None


@dataclass(frozen=True)
class SlaReport:
    """Figures for one component over one period."""

    start: datetime
    end: datetime
    measured_s: float
    maintenance_s: float
    downtime_s: float
    uptime_percent: float
    target_percent: float | None
    error_budget_s: float | None
    error_budget_remaining_s: float | None
    incidents: int
    mtta_s: float | None
    mttr_s: float | None
    longest_outage_s: float

    @property
    def met(self) -> bool | None:
        return None if self.target_percent is None else self.uptime_percent >= self.target_percent


def calendar_period(kind: PeriodKind, year: int, index: int, tz: str = "UTC") -> tuple[datetime, datetime]:
    """[start, end) of month `index` (1-12), quarter `index` (1-4) or the year, cut in `tz`.

    Returned in UTC: subtracting two datetimes that share a ZoneInfo ignores
    DST changes between them, so all arithmetic happens in UTC.
    """
    zone = ZoneInfo(tz)
    if kind == "month":
        if not 1 <= index <= 12:
            raise ValueError("month must be 1-12")
        start = datetime(year, index, 1, tzinfo=zone)
        end = datetime(year + (index == 12), index % 12 + 1, 1, tzinfo=zone)
    elif kind == "quarter":
        if not 1 <= index <= 4:
            raise ValueError("quarter must be 1-4")
        first_month = 3 * (index - 1) + 1
        start = datetime(year, first_month, 1, tzinfo=zone)
        end = datetime(year + (index == 4), (first_month + 2) % 12 + 1, 1, tzinfo=zone)
    else:
        start = datetime(year, 1, 1, tzinfo=zone)
        end = datetime(year + 1, 1, 1, tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Union of intervals regardless of status (sorted, non-overlapping)."""
    merged: list[Interval] = []
    for item in sorted(intervals, key=lambda i: i.start):
        if merged and item.start <= merged[-1].end:
            last = merged[-1]
            merged[-1] = Interval(last.start, max(last.end, item.end), last.status)
        else:
            merged.append(item)
    return merged


def weighted_downtime_s(outages: Sequence[Interval], maintenance: Sequence[Interval]) -> float:
    """Seconds of downtime, worst status winning at each moment, maintenance cut out."""
    edges = sorted({t for i in [*outages, *maintenance] for t in (i.start, i.end)})
    total = 0.0
    for lo, hi in zip(edges, edges[1:], strict=False):
        if any(m.start <= lo and hi <= m.end for m in maintenance):
            continue
        weight = max(
            (STATUS_WEIGHT.get(o.status, 0.0) for o in outages if o.start <= lo and hi <= o.end), default=0.0
        )
        total += weight * (hi - lo).total_seconds()
    return total


def sla_report(
    start: datetime,
    end: datetime,
    now: datetime,
    outages: Iterable[Interval],
    maintenance: Iterable[Interval],
    incidents: Iterable[IncidentTimes] = (),
    target_percent: float | None = None,
) -> SlaReport:
    """Measure [start, min(end, now)). Outages and maintenance outside the period are clipped away."""
    stop = min(end, now)
    if stop <= start:
        stop = start
    clipped_outages = [c for o in outages if (c := o.clip(start, stop))]
    clipped_maint = merge(c for m in maintenance if (c := m.clip(start, stop)))
    maintenance_s = sum((m.end - m.start).total_seconds() for m in clipped_maint)
    measured_s = (stop - start).total_seconds() - maintenance_s
    downtime_s = weighted_downtime_s(clipped_outages, clipped_maint)
    uptime = 100.0 if measured_s <= 0 else 100.0 * (1 - downtime_s / measured_s)
    budget = (
        None
        if target_percent is None
        else (1 - target_percent / 100) * _full_measured_s(start, end, maintenance)
    )
    in_period = [i for i in incidents if start <= i.opened_at < stop]
    return SlaReport(
        start=start,
        end=end,
        measured_s=measured_s,
        maintenance_s=maintenance_s,
        downtime_s=downtime_s,
        uptime_percent=round(uptime, 6),
        target_percent=target_percent,
        error_budget_s=budget,
        error_budget_remaining_s=None if budget is None else budget - downtime_s,
        incidents=len(in_period),
        mtta_s=_mean(i.acknowledged_at - i.opened_at for i in in_period if i.acknowledged_at),
        mttr_s=_mean(i.resolved_at - i.opened_at for i in in_period if i.resolved_at),
        longest_outage_s=longest_outage_s(clipped_outages, clipped_maint),
    )


def longest_outage_s(outages: Sequence[Interval], maintenance: Sequence[Interval]) -> float:
    """Longest continuous stretch of outage (any weight > 0), not counting maintenance time."""
    counted = [o for o in outages if STATUS_WEIGHT.get(o.status, 0.0) > 0]
    longest = 0.0
    for span in merge(counted):
        inside_maintenance = sum(
            (c.end - c.start).total_seconds() for m in maintenance if (c := m.clip(span.start, span.end))
        )
        longest = max(longest, (span.end - span.start).total_seconds() - inside_maintenance)
    return longest


def burn_rate(downtime_s: float, window_s: float, target_percent: float) -> float:
    """How many times faster than allowed the error budget burns over a window.

    1.0 spends exactly the budget by the end of the SLA period; Google's SRE
    workbook pages at 14.4 over 1 h (2 % of a 30-day budget in one hour).
    """
    if window_s <= 0:
        return 0.0
    allowed_fraction = 1 - target_percent / 100
    if allowed_fraction <= 0:
        return float("inf") if downtime_s > 0 else 0.0
    return (downtime_s / window_s) / allowed_fraction


def _full_measured_s(start: datetime, end: datetime, maintenance: Iterable[Interval]) -> float:
    windows = merge(c for m in maintenance if (c := m.clip(start, end)))
    return (end - start).total_seconds() - sum((m.end - m.start).total_seconds() for m in windows)


def _mean(deltas: Iterable[timedelta]) -> float | None:
    values = [d.total_seconds() for d in deltas]
    return sum(values) / len(values) if values else None
