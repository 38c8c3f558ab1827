"""Heartbeat checks a ping created (`/ping/<ping-key>/<slug>?create=1`): the rows behind them.

A row holds what cannot be derived: the slug, the check id made from it, when
and from where the first ping came. Everything else (period, grace, component)
comes from the collector's settings when the check is built
(`statuspage.auto_heartbeats`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from shared.timeutil import from_iso, to_iso
from statuspage.storage import sql
from statuspage.storage.sql import Store


@dataclass(frozen=True)
class AutoHeartbeat:
    """One auto-created heartbeat check as stored."""

    check_id: str
    slug: str
    created_at: datetime
    created_from: str | None


_COLUMNS = "check_id, slug, created_at, created_from"


def _row(row: dict[str, object]) -> AutoHeartbeat:
    return AutoHeartbeat(
        check_id=str(row["check_id"]),
        slug=str(row["slug"]),
        created_at=from_iso(str(row["created_at"])),
        created_from=None if row["created_from"] is None else str(row["created_from"]),
    )


def load_all(db: Store) -> list[AutoHeartbeat]:
    """Every auto-created check, oldest first."""
    return [_row(row) for row in sql.rows(db, f"SELECT {_COLUMNS} FROM heartbeat_auto_checks ORDER BY id")]  # noqa: S608


def by_slug(db: Store, slug: str) -> AutoHeartbeat | None:
    found = sql.one(db, f"SELECT {_COLUMNS} FROM heartbeat_auto_checks WHERE slug = :slug", {"slug": slug})  # noqa: S608
    return _row(found) if found else None


def count(db: Store) -> int:
    return int(sql.scalar(db, "SELECT count(*) FROM heartbeat_auto_checks") or 0)


def create(db: Store, check_id: str, slug: str, at: datetime, created_from: str | None) -> bool:
    """Store a new auto-created check; False when that slug (or id) is already stored.

    Call inside `sql.write`, after counting against the limit in the same transaction.
    """
    made = sql.scalar(
        db,
        "INSERT INTO heartbeat_auto_checks (check_id, slug, created_at, created_from)"
        " VALUES (:check_id, :slug, :at, :created_from) ON CONFLICT DO NOTHING RETURNING id",
        {"check_id": check_id, "slug": slug, "at": to_iso(at), "created_from": created_from},
    )
    return made is not None


def delete(db: Store, check_ids: list[str]) -> int:
    """Forget these auto-created checks and their ping keys; their results stay until retention.

    Returns how many checks were removed. Call inside `sql.write`.
    """
    if not check_ids:
        return 0
    listed, params = sql.in_list("id", check_ids)
    removed = sql.run(db, f"DELETE FROM heartbeat_auto_checks WHERE check_id IN ({listed})", params)  # noqa: S608
    sql.run(db, f"DELETE FROM heartbeats WHERE check_id IN ({listed})", params)  # noqa: S608
    return removed
