"""Operator overrides of a component's public status ("we know, it's degraded").

An override wins over the status the checks produce and what incidents declare
until it is cleared; every output reads the shown status through
`statuspage.storage.status.load_component_status`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlite_utils import Database

from shared.timeutil import from_iso, to_iso
from statuspage.storage.status import record_shown_history

OVERRIDE_STATUSES = (
    "operational", "degraded_performance", "partial_outage", "major_outage", "under_maintenance",
)  # fmt: skip


@dataclass(frozen=True)
class Override:
    component_id: str
    status: str
    reason: str
    set_by: str
    set_at: datetime


def set_override(
    db: Database, component_id: str, status: str, reason: str, actor: str, now: datetime
) -> None:
    db.execute(
        "INSERT INTO component_overrides (component_id, status, reason, set_by, set_at)"
        " VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (component_id) DO UPDATE SET status = excluded.status, reason = excluded.reason,"
        " set_by = excluded.set_by, set_at = excluded.set_at",
        [component_id, status, reason, actor, to_iso(now)],
    )
    record_shown_history(db, now)


def clear_override(db: Database, component_id: str, now: datetime) -> bool:
    cursor = db.execute("DELETE FROM component_overrides WHERE component_id = ?", [component_id])
    record_shown_history(db, now)
    return cursor.rowcount > 0


def list_overrides(db: Database) -> dict[str, Override]:
    cursor = db.execute("SELECT component_id, status, reason, set_by, set_at FROM component_overrides")
    return {r[0]: Override(r[0], r[1], r[2], r[3], from_iso(r[4])) for r in cursor.fetchall()}
