"""The audit log: who changed what, when and from where. Append-only; never updated."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from shared.timeutil import from_iso, to_iso


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    target: str
    client_address: str
    details: dict[str, Any]


def record(
    db: Database,
    now: datetime,
    actor: str,
    action: str,
    target: str = "",
    client_address: str = "",
    details: dict[str, Any] | None = None,
) -> int:
    """Append one entry (call inside the transaction that made the change)."""
    cursor = db.execute(
        "INSERT INTO audit_log (at, actor, action, target, client_address, details)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        [to_iso(now), actor, action, target, client_address, json.dumps(details or {}, default=str)],
    )
    return int(cursor.lastrowid or 0)


def recent(db: Database, limit: int = 200, before_id: int | None = None) -> list[AuditEntry]:
    """Newest first; `before_id` pages backwards."""
    cursor = db.execute(
        "SELECT id, at, actor, action, target, client_address, details FROM audit_log"
        " WHERE id < ? ORDER BY id DESC LIMIT ?",
        [before_id or 2**62, limit],
    )
    return [
        AuditEntry(int(r[0]), from_iso(r[1]), r[2], r[3], r[4], r[5], json.loads(r[6]))
        for r in cursor.fetchall()
    ]
