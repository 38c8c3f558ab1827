"""The stored, current status of each component (written by evaluation, read by pages),
and its history as intervals (`component_status_history`), which daily uptime is built from.

`status` is what the public sees (maintenance applied); `health` is what the
checks alone say; `incident_id` is the incident handling the component's
current failure episode (NULL when it is healthy or nothing was opened).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlite_utils import Database

from shared.timeutil import from_iso, to_iso


@dataclass(frozen=True)
class ComponentRow:
    status: str
    health: str | None
    incident_id: int | None
    updated_at: datetime


def load_computed_status(db: Database) -> dict[str, tuple[str, datetime]]:
    """component id -> (status from the checks, since when), ignoring operator overrides."""
    rows = db.execute("SELECT component_id, status, updated_at FROM component_status").fetchall()
    return {row[0]: (row[1], from_iso(row[2])) for row in rows}


def load_component_status(db: Database) -> dict[str, tuple[str, datetime]]:
    """component id -> (status, since when): what pages show; an operator override
    (`component_overrides`, set in the admin UI/API) wins over the checks."""
    statuses = load_computed_status(db)
    for component_id, status, set_at in db.execute(
        "SELECT component_id, status, set_at FROM component_overrides"
    ).fetchall():
        statuses[component_id] = (status, from_iso(set_at))
    return statuses


def load_component_rows(db: Database) -> dict[str, ComponentRow]:
    """component id -> its full row."""
    rows = db.execute("SELECT component_id, status, health, incident_id, updated_at FROM component_status")
    return {
        r[0]: ComponentRow(r[1], r[2], int(r[3]) if r[3] is not None else None, from_iso(r[4])) for r in rows
    }


def save_component_status(
    db: Database, statuses: dict[str, str], now: datetime, health: dict[str, str] | None = None
) -> list[str]:
    """Store statuses (and health) that changed; return the ids whose status changed.

    Call inside a transaction. Each status change is also recorded in the history.
    """
    current = load_component_rows(db)
    changed = [cid for cid, status in statuses.items() if cid not in current or current[cid].status != status]
    for component_id, status in statuses.items():
        row = current.get(component_id)
        new_health = (health or {}).get(component_id, row.health if row else None)
        if row is not None and row.status == status and row.health == new_health:
            continue
        updated_at = now if component_id in changed or row is None else row.updated_at
        db.execute(
            "INSERT INTO component_status (component_id, status, updated_at, health) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (component_id) DO UPDATE SET status = excluded.status,"
            " updated_at = excluded.updated_at, health = excluded.health",
            [component_id, status, to_iso(updated_at), new_health],
        )
    at = to_iso(now)
    for component_id in changed:
        # Each change closes the component's open history interval and opens a new one.
        db.execute(
            "UPDATE component_status_history SET ended_at = ? WHERE component_id = ? AND ended_at IS NULL",
            [at, component_id],
        )
        db.execute(
            "INSERT INTO component_status_history (component_id, status, started_at) VALUES (?, ?, ?)",
            [component_id, statuses[component_id], at],
        )
    return changed


def set_episode(db: Database, component_id: str, incident_id: int | None) -> None:
    """Point the component's current failure episode at an incident (None: the episode ended)."""
    db.execute(
        "UPDATE component_status SET incident_id = ? WHERE component_id = ?", [incident_id, component_id]
    )
