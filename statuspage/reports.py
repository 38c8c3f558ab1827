"""SLA reports per component and calendar period, as rows for the admin page, CSV and JSON.

Periods are written `2026-11` (a month), `2026-Q4` (a quarter) or `2026` (a
year) and cut in the configured time zone (`[sla] tz`).
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.timeutil import to_iso
from statuspage.engine.sla import (
    Interval,
    PeriodKind,
    SlaReport,
    calendar_period,
    merge,
    sla_report,
    weighted_downtime_s,
)
from statuspage.settings import Settings
from statuspage.storage import incidents as incident_store
from statuspage.storage.problems import get_problem
from statuspage.storage.sla import incident_times, maintenance_intervals, outage_intervals
from statuspage.storage.sql import Store  # noqa: I001

PERIOD_RE = re.compile(r"^(?P<year>\d{4})(?:-(?:(?P<month>0[1-9]|1[0-2])|Q(?P<quarter>[1-4])))?$")
COLUMNS = [
    "component",
    "period",
    "start",
    "end",
    "uptime_percent",
    "target_percent",
    "met",
    "downtime_s",
    "maintenance_s",
    "error_budget_s",
    "error_budget_remaining_s",
    "incidents",
    "mtta_s",
    "mttr_s",
    "longest_outage_s",
]


@dataclass(frozen=True)
class Period:
    label: str
    kind: PeriodKind
    year: int
    index: int

    def bounds(self, tz: str) -> tuple[datetime, datetime]:
        return calendar_period(self.kind, self.year, self.index, tz)


def parse_period(text: str) -> Period:
    """Parse `2026-11`, `2026-Q4` or `2026`. Raises ValueError naming the accepted forms."""
    match = PERIOD_RE.match(text.strip())
    if not match:
        raise ValueError(f"invalid period {text!r}; use 2026-11 (month), 2026-Q4 (quarter) or 2026 (year)")
    year = int(match["year"])
    if match["month"]:
        return Period(text, "month", year, int(match["month"]))
    if match["quarter"]:
        return Period(text, "quarter", year, int(match["quarter"]))
    return Period(text, "year", year, 1)


def component_report(
    db: Store, settings: Settings, component_id: str, period: Period, now: datetime
) -> SlaReport:
    component = settings.component(component_id)
    if component is None:
        raise KeyError(component_id)
    start, end = period.bounds(settings.sla.tz)
    return sla_report(
        start,
        end,
        now,
        outage_intervals(db, component_id, start, end, now),
        maintenance_intervals(db, component_id, start, end, now),
        incident_times(db, component_id, start, end),
        target_percent=component.sla_target,
    )


def report_rows(
    db: Store, settings: Settings, period: Period, now: datetime, component_ids: list[str] | None = None
) -> list[dict[str, Any]]:
    """One row per component (all, or those named), with COLUMNS as keys. Raises KeyError for unknown ids."""
    ids = component_ids or [c.id for c in settings.components]
    rows = []
    for component_id in ids:
        report = component_report(db, settings, component_id, period, now)
        rows.append(
            {
                "component": component_id,
                "period": period.label,
                "start": to_iso(report.start),
                "end": to_iso(report.end),
                "uptime_percent": round(report.uptime_percent, 4),
                "target_percent": report.target_percent,
                "met": report.met,
                "downtime_s": round(report.downtime_s, 1),
                "maintenance_s": round(report.maintenance_s, 1),
                "error_budget_s": _round(report.error_budget_s),
                "error_budget_remaining_s": _round(report.error_budget_remaining_s),
                "incidents": report.incidents,
                "mtta_s": _round(report.mtta_s),
                "mttr_s": _round(report.mttr_s),
                "longest_outage_s": round(report.longest_outage_s, 1),
            }
        )
    return rows


def to_csv(rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: "" if value is None else value for key, value in row.items()})
    return buffer.getvalue()


def to_json(rows: list[dict[str, Any]]) -> str:
    return json.dumps({"reports": rows}, indent=2)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


@dataclass(frozen=True)
class ProblemImpact:
    """What a problem has cost: its incidents, their total duration and weighted downtime."""

    problem_id: int
    title: str
    incident_ids: list[int]
    first_at: datetime | None
    last_at: datetime | None
    total_duration_s: float
    downtime_s_by_component: dict[str, float]
    impact_counts: dict[str, int]
    open_incidents: int


def problem_impact(db: Store, problem_id: int, now: datetime) -> ProblemImpact | None:
    """Sum up a problem's linked incidents (overlaps counted once). None if there is no such problem."""
    problem = get_problem(db, problem_id)
    if problem is None:
        return None
    incidents = [i for i in (incident_store.get_incident(db, n) for n in problem.incident_ids) if i]
    spans = [Interval(i.created_at, i.resolved_at or now) for i in incidents]
    by_component: dict[str, list[Interval]] = {}
    impact_counts: dict[str, int] = {}
    for incident, span in zip(incidents, spans, strict=True):
        impact_counts[incident.impact] = impact_counts.get(incident.impact, 0) + 1
        for component_id, status in incident.components.items():
            by_component.setdefault(component_id, []).append(Interval(span.start, span.end, status))
    return ProblemImpact(
        problem_id=problem.id,
        title=problem.title,
        incident_ids=[i.id for i in incidents],
        first_at=min((s.start for s in spans), default=None),
        last_at=max((s.start for s in spans), default=None),
        total_duration_s=sum((s.end - s.start).total_seconds() for s in merge(spans)),
        downtime_s_by_component={c: weighted_downtime_s(v, []) for c, v in sorted(by_component.items())},
        impact_counts=impact_counts,
        open_incidents=sum(1 for i in incidents if i.is_open),
    )
