"""Small named facts the engine keeps between passes (the worker's last pass, grace deadlines)."""

from __future__ import annotations

from datetime import datetime

from shared.timeutil import from_iso, to_iso
from statuspage.storage import sql
from statuspage.storage.sql import Store


def get_time(db: Store, key: str) -> datetime | None:
    found = sql.scalar(db, "SELECT value FROM engine_state WHERE key = :key", {"key": key})
    return from_iso(found) if found is not None else None


def set_time(db: Store, key: str, moment: datetime) -> None:
    sql.run(
        db,
        "INSERT INTO engine_state (key, value) VALUES (:key, :value)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        {"key": key, "value": to_iso(moment)},
    )
