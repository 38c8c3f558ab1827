"""The audit log: who changed what, when and from where. Append-only; never updated."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.timeutil import from_iso, to_iso
from statuspage.storage import sql
from statuspage.storage.sql import Store


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
    db: Store,
    now: datetime,
    actor: str,
    action: str,
    target: str = "",
    client_address: str = "",
    details: dict[str, Any] | None = None,
) -> int:
    """Append one entry (call inside the transaction that made the change)."""
    return sql.insert_returning_id(
        db,
        "INSERT INTO audit_log (at, actor, action, target, client_address, details)"
        " VALUES (:at, :actor, :action, :target, :client_address, :details) RETURNING id",
        {
            "at": to_iso(now),
            "actor": actor,
            "action": action,
            "target": target,
            "client_address": client_address,
            "details": json.dumps(details or {}, default=str),
        },
    )


def recent(db: Store, limit: int = 200, before_id: int | None = None) -> list[AuditEntry]:
    """Newest first; `before_id` pages backwards."""
    rows = sql.tuples(
        db,
        "SELECT id, at, actor, action, target, client_address, details FROM audit_log"
        " WHERE id < :before ORDER BY id DESC LIMIT :limit",
        {"before": before_id or 2**62, "limit": limit},
    )
    return [AuditEntry(int(r[0]), from_iso(r[1]), r[2], r[3], r[4], r[5], json.loads(r[6])) for r in rows]
