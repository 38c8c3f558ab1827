"""Read-only queries behind the public pages, feeds and the Statuspage v2 API.

Only public incidents are ever returned (`public = 1 AND drill = 0`); the
operator-facing timeline (`incident_events`) and forensics are never read here.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared.timeutil import from_iso, to_iso
from statuspage.storage import sql
from statuspage.storage.sql import Store

OPEN_STATUSES = ("investigating", "identified", "monitoring")
PUBLIC = "public = 1 AND drill = 0"


@dataclass(frozen=True)
class AffectedComponent:
    component_id: str
    old_status: str
    new_status: str


@dataclass(frozen=True)
class IncidentUpdate:
    id: int
    incident_id: int
    status: str
    body: str
    created_at: datetime
    affected: list[AffectedComponent]


@dataclass(frozen=True)
class Incident:
    """A public incident with its updates (newest first) and affected components."""

    id: int
    title: str
    status: str
    impact: str
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    postmortem: str | None
    postmortem_published_at: datetime | None
    updates: list[IncidentUpdate] = field(default_factory=list)
    components: dict[str, str] = field(default_factory=dict)  # component id -> status it caused

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def monitoring_at(self) -> datetime | None:
        times = [u.created_at for u in self.updates if u.status == "monitoring"]
        return min(times) if times else None

    @property
    def published_postmortem(self) -> str | None:
        return self.postmortem if self.postmortem and self.postmortem_published_at else None

    def ended_at(self, now: datetime) -> datetime:
        return self.resolved_at or now


@dataclass(frozen=True)
class Maintenance:
    id: int
    title: str
    body: str
    status: str
    scheduled_for: datetime
    scheduled_until: datetime
    started_at: datetime | None
    completed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    components: list[str] = field(default_factory=list)


def _time(value: Any) -> datetime | None:
    return from_iso(str(value)) if value else None


def _incidents(db: Store, where: str, params: dict[str, Any], tail: str = "") -> list[Incident]:
    rows = sql.tuples(
        db,
        "SELECT id, title, status, impact, created_at, updated_at, resolved_at, postmortem,"  # noqa: S608 - placeholders and fixed clauses only
        f" postmortem_published_at FROM incidents WHERE {PUBLIC} AND ({where}) {tail}",
        params,
    )
    if not rows:
        return []
    ids = [row[0] for row in rows]
    updates = _updates(db, ids)
    components = _incident_components(db, ids)
    return [
        Incident(
            id=row[0],
            title=row[1],
            status=row[2],
            impact=row[3],
            created_at=from_iso(row[4]),
            updated_at=from_iso(row[5]),
            resolved_at=_time(row[6]),
            postmortem=row[7],
            postmortem_published_at=_time(row[8]),
            updates=updates.get(row[0], []),
            components=components.get(row[0], {}),
        )
        for row in rows
    ]


def _updates(db: Store, incident_ids: list[int]) -> dict[int, list[IncidentUpdate]]:
    marks, params = sql.in_list("incident", incident_ids)
    rows = sql.tuples(
        db,
        "SELECT id, incident_id, status, body, created_at, affected_components FROM incident_updates"  # noqa: S608 - placeholders and fixed clauses only
        f" WHERE incident_id IN ({marks}) ORDER BY created_at DESC, id DESC",
        params,
    )
    found: dict[int, list[IncidentUpdate]] = defaultdict(list)
    for update_id, incident_id, status, body, created_at, affected in rows:
        found[incident_id].append(
            IncidentUpdate(update_id, incident_id, status, body, from_iso(created_at), _affected(affected))
        )
    return found


def _affected(text: str) -> list[AffectedComponent]:
    try:
        items = json.loads(text or "[]")
    except ValueError:
        return []
    return [
        AffectedComponent(str(i["component_id"]), str(i.get("old_status")), str(i.get("new_status")))
        for i in items
        if isinstance(i, dict) and "component_id" in i
    ]


def _incident_components(db: Store, incident_ids: list[int]) -> dict[int, dict[str, str]]:
    marks, params = sql.in_list("incident", incident_ids)
    rows = sql.tuples(
        db,
        "SELECT incident_id, component_id, status FROM incident_components"  # noqa: S608 - placeholders and fixed clauses only
        f" WHERE incident_id IN ({marks}) ORDER BY component_id",
        params,
    )
    found: dict[int, dict[str, str]] = defaultdict(dict)
    for incident_id, component_id, status in rows:
        found[incident_id][component_id] = status
    return found


def open_incidents(db: Store) -> list[Incident]:
    """Unresolved public incidents, newest first."""
    return _incidents(
        db, "status NOT IN ('resolved', 'postmortem')", {}, "ORDER BY created_at DESC, id DESC LIMIT 100"
    )


def recent_incidents(db: Store, limit: int = 50) -> list[Incident]:
    """The `limit` most recent public incidents, newest first."""
    return _incidents(db, "1 = 1", {}, f"ORDER BY created_at DESC, id DESC LIMIT {int(limit)}")


def get_incident(db: Store, incident_id: int) -> Incident | None:
    found = _incidents(db, "id = :id", {"id": incident_id})
    return found[0] if found else None


def incidents_between(
    db: Store, start: datetime, end: datetime, component_id: str | None = None
) -> list[Incident]:
    """Public incidents created in [start, end), newest first; optionally of one component."""
    where = "created_at >= :start AND created_at < :end"
    params: dict[str, Any] = {"start": to_iso(start), "end": to_iso(end)}
    if component_id is not None:
        where += " AND id IN (SELECT incident_id FROM incident_components WHERE component_id = :component_id)"
        params["component_id"] = component_id
    return _incidents(db, where, params, "ORDER BY created_at DESC, id DESC")


def incidents_overlapping(
    db: Store, start: datetime
) -> list[tuple[int, str, str, datetime, datetime | None]]:
    """(incident id, title, component id, created_at, resolved_at) of public incidents that were
    open at some time since `start`, one row per affected component (for the uptime bars)."""
    rows = sql.tuples(
        db,
        "SELECT i.id, i.title, c.component_id, i.created_at, i.resolved_at FROM incidents i"
        " JOIN incident_components c ON c.incident_id = i.id"
        " WHERE i.public = 1 AND i.drill = 0 AND (i.resolved_at IS NULL OR i.resolved_at >= :start)",
        {"start": to_iso(start)},
    )
    return [(r[0], r[1], r[2], from_iso(r[3]), _time(r[4])) for r in rows]


def maintenances(db: Store, statuses: tuple[str, ...], limit: int = 50) -> list[Maintenance]:
    """Maintenances in the given statuses: scheduled ones soonest first, others newest first."""
    if not statuses:
        return []
    marks, params = sql.in_list("status", statuses)
    # NULLS FIRST spelled out: SQLite sorts NULL first by default, PostgreSQL last.
    rows = sql.tuples(
        db,
        "SELECT id, title, body, status, scheduled_for, scheduled_until, started_at, completed_at,"  # noqa: S608 - placeholders and fixed clauses only
        f" created_at, updated_at FROM maintenances WHERE status IN ({marks})"
        " ORDER BY CASE status WHEN 'scheduled' THEN scheduled_for END ASC NULLS FIRST, scheduled_for DESC"
        " LIMIT :limit",
        {**params, "limit": limit},
    )
    if not rows:
        return []
    id_marks, id_params = sql.in_list("maintenance", [row[0] for row in rows])
    components: dict[int, list[str]] = defaultdict(list)
    for maintenance_id, component_id in sql.tuples(
        db,
        "SELECT maintenance_id, component_id FROM maintenance_components"  # noqa: S608 - placeholders and fixed clauses only
        f" WHERE maintenance_id IN ({id_marks}) ORDER BY component_id",
        id_params,
    ):
        components[maintenance_id].append(component_id)
    return [
        Maintenance(
            id=row[0],
            title=row[1],
            body=row[2],
            status=row[3],
            scheduled_for=from_iso(row[4]),
            scheduled_until=from_iso(row[5]),
            started_at=_time(row[6]),
            completed_at=_time(row[7]),
            created_at=from_iso(row[8]),
            updated_at=from_iso(row[9]),
            components=components.get(row[0], []),
        )
        for row in rows
    ]


def last_result_received(db: Store) -> datetime | None:
    """When the newest stored result arrived (by arrival order: an index lookup, not a scan)."""
    arrival = sql.arrival_column(db)
    found = sql.scalar(
        db,
        f"SELECT received_at FROM results WHERE {arrival} = (SELECT max({arrival}) FROM results)",  # noqa: S608
    )
    return from_iso(found) if found else None


def data_stamp(db: Store) -> tuple[str, list[datetime]]:
    """A cheap fingerprint of everything a public page shows, and the times it contains.

    Pages are re-rendered only when it changes (see statuspage.public.http_cache).
    """
    arrival = sql.arrival_column(db)
    row = sql.tuples(
        db,
        "SELECT (SELECT coalesce(max(updated_at), '') || '/' || count(*) FROM component_status),"  # noqa: S608
        " (SELECT coalesce(max(updated_at), '') || '/' || count(*) FROM incidents),"
        " (SELECT max(id) FROM incident_updates),"
        " (SELECT count(*) FROM incident_components),"
        " (SELECT coalesce(max(updated_at), '') || '/' || count(*) FROM maintenances),"
        " (SELECT count(*) FROM maintenance_components),"
        " (SELECT value FROM rollup_watermarks WHERE name = 'component_days_at'),"
        f" (SELECT substr(received_at, 1, 16) FROM results"
        f" WHERE {arrival} = (SELECT max({arrival}) FROM results)),"
        # Operator status overrides (admin) change what pages show without touching component_status
        # (every change sets set_at; the status lengths are for two changes within one timestamp).
        " (SELECT max(set_at) || '/' || count(*) || '/' || sum(length(status)) FROM component_overrides)",
    )[0]
    stamp = "|".join(str(part) for part in row)
    times = []
    for part in (row[0], row[1], row[4]):
        if part and "/" in part and part.split("/")[0]:
            times.append(from_iso(part.split("/")[0]))
    for part in (row[6], row[7]):
        if part:
            times.append(from_iso(part))
    return stamp, times


def oldest_incident_time(db: Store, component_id: str | None = None) -> datetime | None:
    """When the oldest public incident (of one component, if given) was created."""
    query = f"SELECT min(created_at) FROM incidents WHERE {PUBLIC}"  # noqa: S608 - fixed clause
    params: dict[str, Any] = {}
    if component_id is not None:
        query += " AND id IN (SELECT incident_id FROM incident_components WHERE component_id = :component_id)"
        params["component_id"] = component_id
    found = sql.scalar(db, query, params)
    return from_iso(found) if found else None


def component_first_seen(db: Store) -> dict[str, datetime]:
    """component id -> the start of its oldest kept status interval (its `created_at` in the API)."""
    rows = sql.tuples(
        db, "SELECT component_id, min(started_at) FROM component_status_history GROUP BY component_id"
    )
    return {row[0]: from_iso(row[1]) for row in rows}


def incidents_version(db: Store) -> str:
    """Changes whenever an incident is added, removed or updated (newest updated_at and the count)."""
    return str(sql.scalar(db, "SELECT max(updated_at) || '/' || count(*) FROM incidents"))


def ping(db: Store) -> None:
    """One round trip to the database (health checks); raises the driver's error when it is down."""
    sql.scalar(db, "SELECT 1")
