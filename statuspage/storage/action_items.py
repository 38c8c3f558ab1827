"""Postmortem action items: what the team will change, who owns it, by when."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from shared.timeutil import from_iso, to_iso
from statuspage.storage import sql
from statuspage.storage.sql import Store


@dataclass(frozen=True)
class ActionItem:
    id: int
    incident_id: int
    description: str
    owner: str
    due_on: date | None
    created_at: datetime
    created_by: str
    done_at: datetime | None


def insert_action_item(
    db: Store,
    incident_id: int,
    description: str,
    owner: str,
    due_on: date | None,
    actor: str,
    now: datetime,
) -> int:
    return sql.insert_returning_id(
        db,
        "INSERT INTO action_items (incident_id, description, owner, due_on, created_at, created_by)"
        " VALUES (:incident_id, :description, :owner, :due_on, :now, :actor) RETURNING id",
        {
            "incident_id": incident_id,
            "description": description,
            "owner": owner,
            "due_on": due_on.isoformat() if due_on else None,
            "now": to_iso(now),
            "actor": actor,
        },
    )


def set_done(db: Store, item_id: int, done: bool, now: datetime) -> bool:
    changed = sql.run(
        db,
        "UPDATE action_items SET done_at = :done_at WHERE id = :id",
        {"done_at": to_iso(now) if done else None, "id": item_id},
    )
    return changed > 0


def action_items_of(db: Store, incident_id: int) -> list[ActionItem]:
    rows = sql.tuples(
        db,
        "SELECT id, incident_id, description, owner, due_on, created_at, created_by, done_at"
        " FROM action_items WHERE incident_id = :incident_id ORDER BY id",
        {"incident_id": incident_id},
    )
    return [
        ActionItem(
            id=row[0],
            incident_id=row[1],
            description=row[2],
            owner=row[3],
            due_on=date.fromisoformat(row[4]) if row[4] else None,
            created_at=from_iso(row[5]),
            created_by=row[6],
            done_at=from_iso(row[7]) if row[7] else None,
        )
        for row in rows
    ]
