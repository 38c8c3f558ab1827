"""Maintenance windows and their components: all the SQL.

States move scheduled -> in_progress -> completed on their own (the worker
calls `start_due` / `complete_due`, each a conditional UPDATE so two workers
never both transition a window). A window counts as active from
`scheduled_for` until `scheduled_until` unless an operator completed it early;
recurring windows from config are stored once per occurrence
(`source = "config:<id>"`, unique with `scheduled_for`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from shared.timeutil import from_iso, to_iso
from statuspage.storage import sql
from statuspage.storage.sql import Store

MAINTENANCE_STATUSES = ("scheduled", "in_progress", "completed")


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
    source: str
    components: list[str]

    def active_at(self, now: datetime) -> bool:
        return self.status != "completed" and self.scheduled_for <= now < self.scheduled_until


def insert_maintenance(
    db: Store,
    *,
    title: str,
    body: str,
    scheduled_for: datetime,
    scheduled_until: datetime,
    components: list[str],
    now: datetime,
    source: str = "manual",
) -> int | None:
    """Store a window; return its id, or None when this config occurrence already exists."""
    new_id = sql.scalar(
        db,
        "INSERT INTO maintenances (title, body, status, scheduled_for, scheduled_until,"
        " created_at, updated_at, source) VALUES (:title, :body, 'scheduled', :scheduled_for,"
        " :scheduled_until,"
        " :now, :now, :source) ON CONFLICT DO NOTHING RETURNING id",
        {
            "title": title,
            "body": body,
            "scheduled_for": to_iso(scheduled_for),
            "scheduled_until": to_iso(scheduled_until),
            "now": to_iso(now),
            "source": source,
        },
    )
    if new_id is None:
        return None
    maintenance_id = int(new_id)
    _set_components(db, maintenance_id, components)
    return maintenance_id


def update_maintenance(
    db: Store,
    maintenance_id: int,
    now: datetime,
    *,
    title: str | None = None,
    body: str | None = None,
    scheduled_for: datetime | None = None,
    scheduled_until: datetime | None = None,
    components: list[str] | None = None,
) -> bool:
    """Change a window that has not completed; False when missing or already completed."""
    current = get_maintenance(db, maintenance_id)
    if current is None or current.status == "completed":
        return False
    sql.run(
        db,
        "UPDATE maintenances SET title = :title, body = :body, scheduled_for = :scheduled_for,"
        " scheduled_until = :scheduled_until, updated_at = :updated_at"
        " WHERE id = :id",
        {
            "title": title if title is not None else current.title,
            "body": body if body is not None else current.body,
            "scheduled_for": to_iso(scheduled_for or current.scheduled_for),
            "scheduled_until": to_iso(scheduled_until or current.scheduled_until),
            "updated_at": to_iso(now),
            "id": maintenance_id,
        },
    )
    if components is not None:
        _set_components(db, maintenance_id, components)
    return True


def complete_now(db: Store, maintenance_id: int, now: datetime) -> bool:
    """End a window early (or cancel a scheduled one); False when it was already completed."""
    changed = sql.run(
        db,
        "UPDATE maintenances SET status = 'completed', completed_at = :now, updated_at = :now"
        " WHERE id = :id AND status != 'completed'",
        {"now": to_iso(now), "id": maintenance_id},
    )
    return changed == 1


def start_due(db: Store, now: datetime) -> list[int]:
    """scheduled -> in_progress for windows whose start has come; return the ids this call moved."""
    return _transition(
        db,
        "SELECT id FROM maintenances WHERE status = 'scheduled'"
        " AND scheduled_for <= :now AND scheduled_until > :now",
        {"now": to_iso(now)},
        "UPDATE maintenances SET status = 'in_progress', started_at = :now, updated_at = :now"
        " WHERE id = :id AND status = 'scheduled'",
        now,
    )


def complete_due(db: Store, now: datetime) -> list[int]:
    """scheduled/in_progress -> completed for windows whose end has passed; return the ids moved."""
    return _transition(
        db,
        "SELECT id FROM maintenances WHERE status != 'completed' AND scheduled_until <= :now",
        {"now": to_iso(now)},
        "UPDATE maintenances SET status = 'completed', completed_at = :now, updated_at = :now"
        " WHERE id = :id AND status != 'completed'",
        now,
    )


def _transition(db: Store, select: str, params: dict[str, str], update: str, now: datetime) -> list[int]:
    moved = []
    for (maintenance_id,) in sql.tuples(db, select, params):
        # The WHERE on the old status is the claim: a second worker updates 0 rows.
        if sql.run(db, update, {"now": to_iso(now), "id": maintenance_id}) == 1:
            moved.append(int(maintenance_id))
    return moved


def get_maintenance(db: Store, maintenance_id: int) -> Maintenance | None:
    found = _select(db, "WHERE id = :id", {"id": maintenance_id})
    return found[0] if found else None


def list_maintenances(db: Store, *, status: str | None = None, limit: int = 200) -> list[Maintenance]:
    """Windows by start time (soonest first), optionally of one status."""
    if status is not None:
        return _select(
            db,
            "WHERE status = :status ORDER BY scheduled_for LIMIT :limit",
            {"status": status, "limit": limit},
        )
    return _select(db, "ORDER BY scheduled_for LIMIT :limit", {"limit": limit})


def active_maintenances(db: Store, now: datetime) -> list[Maintenance]:
    """Windows covering `now` that nobody completed early."""
    at = to_iso(now)
    return _select(
        db,
        "WHERE status != 'completed' AND scheduled_for <= :now AND scheduled_until > :now ORDER BY id",
        {"now": at},
    )


def components_in_maintenance(db: Store, now: datetime) -> set[str]:
    return {cid for m in active_maintenances(db, now) for cid in m.components}


def _set_components(db: Store, maintenance_id: int, components: list[str]) -> None:
    sql.run(
        db,
        "DELETE FROM maintenance_components WHERE maintenance_id = :maintenance_id",
        {"maintenance_id": maintenance_id},
    )
    for component_id in sorted(set(components)):
        sql.run(
            db,
            "INSERT INTO maintenance_components (maintenance_id, component_id) VALUES (:maintenance_id,"
            " :component_id)",
            {"maintenance_id": maintenance_id, "component_id": component_id},
        )


def _select(db: Store, clause: str, params: dict[str, object]) -> list[Maintenance]:
    columns = "id, title, body, status, scheduled_for, scheduled_until, started_at, completed_at, source"
    rows = sql.tuples(db, f"SELECT {columns} FROM maintenances {clause}", params)  # noqa: S608
    result = []
    for r in rows:
        components = [
            c
            for (c,) in sql.tuples(
                db,
                "SELECT component_id FROM maintenance_components WHERE maintenance_id = :maintenance_id"
                " ORDER BY component_id",
                {"maintenance_id": r[0]},
            )
        ]
        result.append(
            Maintenance(
                id=int(r[0]),
                title=r[1],
                body=r[2],
                status=r[3],
                scheduled_for=from_iso(r[4]),
                scheduled_until=from_iso(r[5]),
                started_at=from_iso(r[6]) if r[6] else None,
                completed_at=from_iso(r[7]) if r[7] else None,
                source=r[8],
                components=components,
            )
        )
    return result
