"""What fan-out reads and the progress it records (`notify_watermarks`, `maintenance_notifications`).

Which updates go to whom is decided in `statuspage/notify/fanout.py`; this
module only reads the incident and maintenance rows and moves the watermarks.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.timeutil import to_iso
from statuspage.storage import sql
from statuspage.storage.sql import Store

UPDATES_WATERMARK = "incident_updates"


def next_update_id(db: Store) -> int | None:
    """The lowest incident update id past the fan-out watermark, or None when none is new."""
    found = sql.scalar(
        db,
        "SELECT MIN(id) FROM incident_updates WHERE id >"
        " (SELECT value FROM notify_watermarks WHERE name = :name)",
        {"name": UPDATES_WATERMARK},
    )
    return None if found is None else int(found)


def set_update_watermark(db: Store, update_id: int) -> None:
    sql.run(
        db,
        "UPDATE notify_watermarks SET value = :value WHERE name = :name",
        {"value": update_id, "name": UPDATES_WATERMARK},
    )


def update_row(db: Store, update_id: int) -> dict[str, Any]:
    """Every column of an incident update. Raises LookupError when there is none."""
    return _required(sql.one(db, "SELECT * FROM incident_updates WHERE id = :id", {"id": update_id}))


def incident_row(db: Store, incident_id: int) -> dict[str, Any]:
    """Every column of an incident. Raises LookupError when there is none."""
    return _required(sql.one(db, "SELECT * FROM incidents WHERE id = :id", {"id": incident_id}))


def first_update_id(db: Store, incident_id: int) -> int | None:
    found = sql.scalar(
        db, "SELECT MIN(id) FROM incident_updates WHERE incident_id = :id", {"id": incident_id}
    )
    return None if found is None else int(found)


def incident_component_statuses(db: Store, incident_id: int) -> dict[str, str]:
    """component id -> the status the incident gives it."""
    return {
        str(component_id): str(status)
        for component_id, status in sql.tuples(
            db,
            "SELECT component_id, status FROM incident_components WHERE incident_id = :id",
            {"id": incident_id},
        )
    }


def unannounced_maintenance(db: Store, limit: int) -> list[tuple[int, str]]:
    """(maintenance id, status) pairs not announced yet, oldest change first."""
    return [
        (int(mid), str(status))
        for mid, status in sql.tuples(
            db,
            "SELECT m.id, m.status FROM maintenances m WHERE NOT EXISTS (SELECT 1 FROM"
            " maintenance_notifications n WHERE n.maintenance_id = m.id AND n.status = m.status)"
            " ORDER BY m.updated_at, m.id LIMIT :limit",
            {"limit": limit},
        )
    ]


def maintenance_row(db: Store, maintenance_id: int) -> dict[str, Any]:
    """Every column of a maintenance. Raises LookupError when there is none."""
    return _required(sql.one(db, "SELECT * FROM maintenances WHERE id = :id", {"id": maintenance_id}))


def maintenance_component_ids(db: Store, maintenance_id: int) -> list[str]:
    return [
        str(cid)
        for (cid,) in sql.tuples(
            db,
            "SELECT component_id FROM maintenance_components WHERE maintenance_id = :id",
            {"id": maintenance_id},
        )
    ]


def mark_maintenance_announced(db: Store, maintenance_id: int, status: str, now: datetime) -> None:
    sql.run(
        db,
        "INSERT INTO maintenance_notifications (maintenance_id, status, notified_at)"
        " VALUES (:id, :status, :now) ON CONFLICT (maintenance_id, status) DO NOTHING",
        {"id": maintenance_id, "status": status, "now": to_iso(now)},
    )


def _required(row: dict[str, Any] | None) -> dict[str, Any]:
    if row is None:
        raise LookupError("row not found")
    return row
