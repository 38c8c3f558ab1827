"""Operator overrides of a component's public status ("we know, it's degraded").

An override wins over the status the checks produce and what incidents declare
until it is cleared; every output reads the shown status through
`statuspage.storage.status.load_component_status`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from shared.timeutil import from_iso, to_iso
from statuspage.storage import sql
from statuspage.storage.sql import Store
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


def set_override(db: Store, component_id: str, status: str, reason: str, actor: str, now: datetime) -> None:
    sql.run(
        db,
        "INSERT INTO component_overrides (component_id, status, reason, set_by, set_at)"
        " VALUES (:component_id, :status, :reason, :actor, :now)"
        " ON CONFLICT (component_id) DO UPDATE SET status = excluded.status, reason = excluded.reason,"
        " set_by = excluded.set_by, set_at = excluded.set_at",
        {
            "component_id": component_id,
            "status": status,
            "reason": reason,
            "actor": actor,
            "now": to_iso(now),
        },
    )
    record_shown_history(db, now)


def clear_override(db: Store, component_id: str, now: datetime) -> bool:
    changed = sql.run(db, "DELETE FROM component_overrides WHERE component_id = :id", {"id": component_id})
    record_shown_history(db, now)
    return changed > 0


def list_overrides(db: Store) -> dict[str, Override]:
    rows = sql.tuples(db, "SELECT component_id, status, reason, set_by, set_at FROM component_overrides")
    return {r[0]: Override(r[0], r[1], r[2], r[3], from_iso(r[4])) for r in rows}
