"""Drill records and the facts a drill report is measured from."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shared.timeutil import from_iso, to_iso
from statuspage.storage import sql
from statuspage.storage.sql import Store

DRILL_AFTERGLOW = timedelta(minutes=10)


@dataclass(frozen=True)
class Drill:
    id: int
    component_id: str
    requested_by: str
    started_at: datetime
    ends_at: datetime
    notify_subscribers: bool
    status: str
    finished_at: datetime | None
    incident_id: int | None
    report: dict[str, Any]


_COLUMNS = (
    "id, component_id, requested_by, started_at, ends_at, notify_subscribers, status, finished_at,"
    " incident_id, report"
)


def insert_drill(
    db: Store, component_id: str, actor: str, now: datetime, ends_at: datetime, notify_subscribers: bool
) -> int:
    return sql.insert_returning_id(
        db,
        "INSERT INTO drills (component_id, requested_by, started_at, ends_at, notify_subscribers)"
        " VALUES (:component_id, :requested_by, :started_at, :ends_at, :notify_subscribers) RETURNING id",
        {
            "component_id": component_id,
            "requested_by": actor,
            "started_at": to_iso(now),
            "ends_at": to_iso(ends_at),
            "notify_subscribers": int(notify_subscribers),
        },
    )


def get_drill(db: Store, drill_id: int) -> Drill | None:
    found = _select(db, "WHERE id = :id", {"id": drill_id})
    return found[0] if found else None


def list_drills(db: Store, limit: int = 100) -> list[Drill]:
    return _select(db, "ORDER BY id DESC LIMIT :limit", {"limit": limit})


def running_drills(db: Store, now: datetime) -> dict[str, Drill]:
    """Drills whose failure window is open at `now`, by component id."""
    drills = _select(
        db,
        "WHERE status = 'running' AND ends_at > :ends_at_after ORDER BY id",
        {"ends_at_after": to_iso(now)},
    )
    return {drill.component_id: drill for drill in drills}


def drilled_components(db: Store, now: datetime) -> set[str]:
    """Components whose public status a drill holds still: during its failure window, and
    afterwards while its incident is open (checks need a few results to recover), at most
    DRILL_AFTERGLOW past the window."""
    rows = sql.tuples(
        db,
        "SELECT d.component_id FROM drills d LEFT JOIN incidents i ON i.id = d.incident_id"
        " WHERE d.ends_at > :now OR (d.ends_at > :afterglow_start AND i.id IS NOT NULL"
        " AND i.status NOT IN ('resolved', 'postmortem'))",
        {"now": to_iso(now), "afterglow_start": to_iso(now - DRILL_AFTERGLOW)},
    )
    return {row[0] for row in rows}


def running_drill_for(db: Store, component_id: str, at: datetime) -> Drill | None:
    """The running drill of a component started at or before `at` (its incident belongs to it)."""
    found = _select(
        db,
        "WHERE status = 'running' AND component_id = :component_id AND started_at <= :started_at_until"
        " ORDER BY id DESC LIMIT 1",
        {"component_id": component_id, "started_at_until": to_iso(at)},
    )
    return found[0] if found else None


def drill_of_incident(db: Store, incident_id: int) -> Drill | None:
    found = _select(db, "WHERE incident_id = :incident_id", {"incident_id": incident_id})
    return found[0] if found else None


def attach_incident(db: Store, drill_id: int, incident_id: int) -> None:
    sql.run(
        db,
        "UPDATE drills SET incident_id = :incident_id WHERE id = :id AND incident_id IS NULL",
        {"incident_id": incident_id, "id": drill_id},
    )


def end_failures_now(db: Store, drill_id: int, now: datetime) -> None:
    """Bring the failure window's end forward to `now` (an aborted drill)."""
    sql.run(
        db,
        "UPDATE drills SET ends_at = :now WHERE id = :id AND ends_at > :now",
        {"now": to_iso(now), "id": drill_id},
    )


def finish_drill(db: Store, drill_id: int, status: str, report: dict[str, Any], now: datetime) -> None:
    sql.run(
        db,
        "UPDATE drills SET status = :status, report = :report, finished_at = :finished_at WHERE id = :id",
        {"status": status, "report": json.dumps(report), "finished_at": to_iso(now), "id": drill_id},
    )


def first_drill_failure_at(
    db: Store, check_ids: list[str], drill_id: int, since: datetime
) -> datetime | None:
    """When the collector received the first injected failure of this drill (detection input)."""
    if not check_ids:
        return None
    marks, params = sql.in_list("check", check_ids)
    # The drill id sits in the result's JSON detail; JSON operators differ per engine, so the
    # few down results of the drilled checks since the drill began are filtered here.
    rows = sql.tuples(
        db,
        f"SELECT received_at, detail FROM results WHERE check_id IN ({marks}) AND started_at >="  # noqa: S608
        " :since"
        " AND status = 'down' ORDER BY received_at",
        {**params, "since": to_iso(since)},
    )
    for received_at, detail in rows:
        if json.loads(detail or "{}").get("drill") == drill_id:
            return from_iso(received_at)
    return None


def first_notification_at(db: Store, incident_id: int) -> datetime | None:
    """When the first page for the incident was delivered (or queued, if not yet delivered)."""
    # Every effect of an incident carries the key prefix "incident:<id>:" (escalation and resolve pages).
    prefix = f"incident:{incident_id}:"
    found = sql.scalar(
        db,
        "SELECT min(coalesce(delivered_at, created_at)) FROM outbox"
        " WHERE substr(idempotency_key, 1, :length) = :prefix",
        {"length": len(prefix), "prefix": prefix},
    )
    return from_iso(found) if found else None


def _select(db: Store, clause: str, params: dict[str, Any]) -> list[Drill]:
    rows = sql.tuples(db, f"SELECT {_COLUMNS} FROM drills {clause}", params)  # noqa: S608
    return [
        Drill(
            id=r[0],
            component_id=r[1],
            requested_by=r[2],
            started_at=from_iso(r[3]),
            ends_at=from_iso(r[4]),
            notify_subscribers=bool(r[5]),
            status=r[6],
            finished_at=from_iso(r[7]) if r[7] else None,
            incident_id=r[8],
            report=json.loads(r[9] or "{}"),
        )
        for r in rows
    ]
