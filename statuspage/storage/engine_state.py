"""Small named facts the engine keeps between passes (the worker's last pass, grace deadlines)."""

from __future__ import annotations

from datetime import datetime

from sqlite_utils import Database

from shared.timeutil import from_iso, to_iso


def get_time(db: Database, key: str) -> datetime | None:
    row = db.execute("SELECT value FROM engine_state WHERE key = ?", [key]).fetchone()
    return from_iso(row[0]) if row else None


def set_time(db: Database, key: str, moment: datetime) -> None:
    db.execute(
        "INSERT INTO engine_state (key, value) VALUES (?, ?)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [key, to_iso(moment)],
    )
