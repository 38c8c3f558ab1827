"""The facts SLA reports are computed from: outage intervals, maintenance windows and
incident times of one component.

Outages come from two sources, and the worse wins at each moment:
- the measured public status history (`component_status_history`: the same
  intervals the status page's uptime bars are built from; drills never show
  there, the public status is held still during a drill);
- the incidents that affected the component (engine-opened or manual; drills
  and agent-offline incidents excluded), from opening to resolution (or `now`
  while open), with the component status the incident recorded — so an outage
  an operator declared counts even when no check saw it.
Maintenance counts from its actual start to its actual end (or its schedule
while running).
"""

from __future__ import annotations

from datetime import datetime

from shared.timeutil import from_iso, to_iso
from statuspage.engine.sla import IncidentTimes, Interval
from statuspage.storage import sql
from statuspage.storage.sql import Store


def outage_intervals(
    db: Store, component_id: str, start: datetime, end: datetime, now: datetime
) -> list[Interval]:
    """Declared (incidents) and measured (status history) outage intervals overlapping [start, end)."""
    declared = incident_intervals(db, component_id, start, end, now)
    return declared + status_intervals(db, component_id, start, end, now)


def status_intervals(
    db: Store, component_id: str, start: datetime, end: datetime, now: datetime
) -> list[Interval]:
    """Measured public status intervals that count as downtime (partial or major outage)."""
    return _spans(
        db,
        "SELECT started_at, ended_at, status FROM component_status_history"
        " WHERE component_id = :component_id AND status IN ('major_outage', 'partial_outage')"
        " AND started_at < :end AND (ended_at IS NULL OR ended_at > :start)",
        _window(component_id, start, end),
        now,
    )


def incident_intervals(
    db: Store, component_id: str, start: datetime, end: datetime, now: datetime
) -> list[Interval]:
    """Outages operators and the engine declared: incidents, drills and agent-offline excluded."""
    return _spans(
        db,
        "SELECT i.created_at, i.resolved_at, ic.status FROM incidents i"
        " JOIN incident_components ic ON ic.incident_id = i.id"
        " WHERE ic.component_id = :component_id AND i.drill = 0 AND i.kind != 'agent_offline'"
        " AND i.created_at < :end AND (i.resolved_at IS NULL OR i.resolved_at > :start)",
        _window(component_id, start, end),
        now,
    )


def _window(component_id: str, start: datetime, end: datetime) -> dict[str, str]:
    return {"component_id": component_id, "start": to_iso(start), "end": to_iso(end)}


def _spans(db: Store, query: str, params: dict[str, str], now: datetime) -> list[Interval]:
    """Rows of (start, end or NULL while it lasts, status) as intervals; open ones end `now`."""
    rows = sql.tuples(db, query, params)
    return [Interval(from_iso(a), from_iso(b) if b else now, status) for a, b, status in rows]


def maintenance_intervals(
    db: Store, component_id: str, start: datetime, end: datetime, now: datetime
) -> list[Interval]:
    rows = sql.tuples(
        db,
        "SELECT m.started_at, m.completed_at, m.scheduled_until FROM maintenances m"
        " JOIN maintenance_components mc ON mc.maintenance_id = m.id"
        " WHERE mc.component_id = :component_id AND m.started_at IS NOT NULL AND m.started_at < :end"
        " AND coalesce(m.completed_at, m.scheduled_until) > :start",
        _window(component_id, start, end),
    )
    intervals = []
    for started, completed, until in rows:
        stop = from_iso(completed) if completed else min(now, from_iso(until))
        intervals.append(Interval(from_iso(started), stop, "maintenance"))
    return intervals


def incident_times(db: Store, component_id: str, start: datetime, end: datetime) -> list[IncidentTimes]:
    rows = sql.tuples(
        db,
        "SELECT DISTINCT i.id, i.created_at, i.acknowledged_at, i.resolved_at FROM incidents i"
        " JOIN incident_components ic ON ic.incident_id = i.id"
        " WHERE ic.component_id = :component_id AND i.drill = 0 AND i.kind != 'agent_offline'"
        " AND i.created_at >= :start AND i.created_at < :end",
        _window(component_id, start, end),
    )
    return [
        IncidentTimes(
            from_iso(created), from_iso(acked) if acked else None, from_iso(resolved) if resolved else None
        )
        for _id, created, acked, resolved in rows
    ]
