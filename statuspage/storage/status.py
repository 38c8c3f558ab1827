"""The stored, current status of each component (written by evaluation, read by pages),
and its history as intervals (`component_status_history`), which daily uptime is built from.

`status` is what the checks say with maintenance applied (the *measured* status);
the public is shown the worse of it and what open incidents declare, an operator
override winning (`load_component_status`); `health` is what the checks alone say;
`incident_id` is the incident handling the component's
current failure episode (NULL when it is healthy or nothing was opened).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from shared.timeutil import from_iso, to_iso
from statuspage.engine.component_status import shown_status
from statuspage.storage import sql
from statuspage.storage.sql import Store


@dataclass(frozen=True)
class ComponentRow:
    status: str
    health: str | None
    incident_id: int | None
    updated_at: datetime


def load_computed_status(db: Store) -> dict[str, tuple[str, datetime]]:
    """component id -> (status from the checks, since when), ignoring incidents and overrides."""
    found = sql.rows(db, "SELECT component_id, status, updated_at FROM component_status")
    return {r["component_id"]: (r["status"], from_iso(r["updated_at"])) for r in found}


def load_declared_status(db: Store) -> dict[str, list[str]]:
    """component id -> the statuses its open public incidents declare (drills never count)."""
    found = sql.rows(
        db,
        "SELECT c.component_id, c.status FROM incident_components c"
        " JOIN incidents i ON i.id = c.incident_id"
        " WHERE i.status NOT IN ('resolved', 'postmortem') AND i.public = 1 AND i.drill = 0",
    )
    declared: dict[str, list[str]] = {}
    for row in found:
        declared.setdefault(row["component_id"], []).append(row["status"])
    return declared


def _overrides(db: Store) -> dict[str, tuple[str, datetime]]:
    found = sql.rows(db, "SELECT component_id, status, set_at FROM component_overrides")
    return {r["component_id"]: (r["status"], from_iso(r["set_at"])) for r in found}


def _shown(db: Store) -> dict[str, tuple[str, datetime | None]]:
    measured = load_computed_status(db)
    declared = load_declared_status(db)
    overrides = _overrides(db)
    shown: dict[str, tuple[str, datetime | None]] = {}
    for component_id in {*measured, *declared, *overrides}:
        status, since = measured.get(component_id, ("unknown", None))
        override = overrides.get(component_id)
        value = shown_status(status, declared.get(component_id, ()), override[0] if override else None)
        if override is not None:
            since = override[1]
        shown[component_id] = (value, since)
    return shown


def load_component_status(db: Store) -> dict[str, tuple[str, datetime | None]]:
    """component id -> (status, since when): what every public output shows.

    The worse of the measured status and what open incidents declare; an operator
    override (`component_overrides`) wins (`engine.component_status.shown_status`).
    "Since" is when the shown status began (the open status-history interval).
    """
    shown = _shown(db)
    started = {
        r["component_id"]: (r["status"], from_iso(r["started_at"]))
        for r in sql.rows(
            db, "SELECT component_id, status, started_at FROM component_status_history WHERE ended_at IS NULL"
        )
    }
    for component_id, (status, _since) in shown.items():
        interval = started.get(component_id)
        if interval is not None and interval[0] == status:
            shown[component_id] = (status, interval[1])
    return shown


def record_shown_history(db: Store, now: datetime) -> list[str]:
    """Bring the status history (`component_status_history`, which uptime is built from) in
    line with the shown status at `now`; return the ids whose shown status changed.

    Call inside the write transaction of anything that can change the shown status:
    evaluation, incident changes, overrides. A change at the same instant as the open
    interval's start rewrites that interval instead of leaving a zero-length one.
    """
    at = to_iso(now)
    current = {
        r["component_id"]: r
        for r in sql.rows(
            db,
            "SELECT id, component_id, status, started_at FROM component_status_history"
            " WHERE ended_at IS NULL",
        )
    }
    shown = {cid: status for cid, (status, _since) in _shown(db).items()}
    # A component nothing speaks for any more (its incident closed before any result came) has no data.
    shown.update({cid: "unknown" for cid in current if cid not in shown})
    changed = []
    for component_id, status in sorted(shown.items()):
        row = current.get(component_id)
        if row is not None and row["status"] == status:
            continue
        changed.append(component_id)
        if row is not None and row["started_at"] == at:
            sql.run(db, "UPDATE component_status_history SET status = :status WHERE id = :id",
                    {"status": status, "id": row["id"]})  # fmt: skip
            continue
        sql.run(
            db,
            "UPDATE component_status_history SET ended_at = :at"
            " WHERE component_id = :component_id AND ended_at IS NULL",
            {"at": at, "component_id": component_id},
        )
        sql.run(
            db,
            "INSERT INTO component_status_history (component_id, status, started_at)"
            " VALUES (:component_id, :status, :at)",
            {"component_id": component_id, "status": status, "at": at},
        )
    return changed


def load_component_rows(db: Store) -> dict[str, ComponentRow]:
    """component id -> its full row."""
    rows = sql.tuples(
        db, "SELECT component_id, status, health, incident_id, updated_at FROM component_status"
    )
    return {
        r[0]: ComponentRow(r[1], r[2], int(r[3]) if r[3] is not None else None, from_iso(r[4])) for r in rows
    }


def save_component_status(
    db: Store, statuses: dict[str, str], now: datetime, health: dict[str, str] | None = None
) -> list[str]:
    """Store statuses (and health) that changed; return the ids whose status changed.

    Call inside a transaction. The status history follows the shown status (`record_shown_history`).
    """
    current = load_component_rows(db)
    changed = [cid for cid, status in statuses.items() if cid not in current or current[cid].status != status]
    for component_id, status in statuses.items():
        row = current.get(component_id)
        new_health = (health or {}).get(component_id, row.health if row else None)
        if row is not None and row.status == status and row.health == new_health:
            continue
        updated_at = now if component_id in changed or row is None else row.updated_at
        sql.run(
            db,
            "INSERT INTO component_status (component_id, status, updated_at, health)"
            " VALUES (:component_id, :status, :updated_at, :health)"
            " ON CONFLICT (component_id) DO UPDATE SET status = excluded.status,"
            " updated_at = excluded.updated_at, health = excluded.health",
            {
                "component_id": component_id,
                "status": status,
                "updated_at": to_iso(updated_at),
                "health": new_health,
            },
        )
    record_shown_history(db, now)
    return changed


def set_episode(db: Store, component_id: str, incident_id: int | None) -> None:
    """Point the component's current failure episode at an incident (None: the episode ended)."""
    sql.run(
        db,
        "UPDATE component_status SET incident_id = :incident_id WHERE component_id = :component_id",
        {"incident_id": incident_id, "component_id": component_id},
    )
