"""Drill records and the facts a drill report is measured from."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlite_utils import Database

from shared.timeutil import from_iso, to_iso

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
    db: Database, component_id: str, actor: str, now: datetime, ends_at: datetime, notify_subscribers: bool
) -> int:
    cursor = db.execute(
        "INSERT INTO drills (component_id, requested_by, started_at, ends_at, notify_subscribers)"
        " VALUES (?, ?, ?, ?, ?)",
        [component_id, actor, to_iso(now), to_iso(ends_at), int(notify_subscribers)],
    )
    return int(cursor.lastrowid or 0)


def get_drill(db: Database, drill_id: int) -> Drill | None:
    found = _select(db, "WHERE id = ?", [drill_id])
    return found[0] if found else None


def list_drills(db: Database, limit: int = 100) -> list[Drill]:
    return _select(db, "ORDER BY id DESC LIMIT ?", [limit])


def running_drills(db: Database, now: datetime) -> dict[str, Drill]:
    """Drills whose failure window is open at `now`, by component id."""
    drills = _select(db, "WHERE status = 'running' AND ends_at > ? ORDER BY id", [to_iso(now)])
    return {drill.component_id: drill for drill in drills}


def drilled_components(db: Database, now: datetime) -> set[str]:
    """Components whose public status a drill holds still: during its failure window, and
    afterwards while its incident is open (checks need a few results to recover), at most
    DRILL_AFTERGLOW past the window."""
    rows = db.execute(
        "SELECT d.component_id FROM drills d LEFT JOIN incidents i ON i.id = d.incident_id"
        " WHERE d.ends_at > ? OR (d.ends_at > ? AND i.id IS NOT NULL"
        " AND i.status NOT IN ('resolved', 'postmortem'))",
        [to_iso(now), to_iso(now - DRILL_AFTERGLOW)],
    ).fetchall()
    return {row[0] for row in rows}


def running_drill_for(db: Database, component_id: str, at: datetime) -> Drill | None:
    """The running drill of a component started at or before `at` (its incident belongs to it)."""
    found = _select(
        db,
        "WHERE status = 'running' AND component_id = ? AND started_at <= ? ORDER BY id DESC LIMIT 1",
        [component_id, to_iso(at)],
    )
    return found[0] if found else None


def drill_of_incident(db: Database, incident_id: int) -> Drill | None:
    found = _select(db, "WHERE incident_id = ?", [incident_id])
    return found[0] if found else None


def attach_incident(db: Database, drill_id: int, incident_id: int) -> None:
    db.execute(
        "UPDATE drills SET incident_id = ? WHERE id = ? AND incident_id IS NULL", [incident_id, drill_id]
    )


def end_failures_now(db: Database, drill_id: int, now: datetime) -> None:
    """Bring the failure window's end forward to `now` (an aborted drill)."""
    db.execute(
        "UPDATE drills SET ends_at = ? WHERE id = ? AND ends_at > ?", [to_iso(now), drill_id, to_iso(now)]
    )


def finish_drill(db: Database, drill_id: int, status: str, report: dict[str, Any], now: datetime) -> None:
    db.execute(
        "UPDATE drills SET status = ?, report = ?, finished_at = ? WHERE id = ?",
        [status, json.dumps(report), to_iso(now), drill_id],
    )


def first_drill_failure_at(
    db: Database, check_ids: list[str], drill_id: int, since: datetime
) -> datetime | None:
    """When the collector received the first injected failure of this drill (detection input)."""
    if not check_ids:
        return None
    marks = ", ".join("?" for _ in check_ids)
    row = db.execute(
        f"SELECT min(received_at) FROM results WHERE check_id IN ({marks}) AND started_at >= ?"  # noqa: S608
        " AND status = 'down' AND json_extract(detail, '$.drill') = ?",
        [*check_ids, to_iso(since), drill_id],
    ).fetchone()
    return from_iso(row[0]) if row and row[0] else None


def first_notification_at(db: Database, incident_id: int) -> datetime | None:
    """When the first page for the incident was delivered (or queued, if not yet delivered)."""
    # Every effect of an incident carries the key prefix "incident:<id>:" (escalation and resolve pages).
    row = db.execute(
        "SELECT min(coalesce(delivered_at, created_at)) FROM outbox WHERE idempotency_key LIKE ?",
        [f"incident:{incident_id}:%"],
    ).fetchone()
    return from_iso(row[0]) if row and row[0] else None


def _select(db: Database, clause: str, params: list[Any]) -> list[Drill]:
    rows = db.execute(f"SELECT {_COLUMNS} FROM drills {clause}", params).fetchall()  # noqa: S608
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
