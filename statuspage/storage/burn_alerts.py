"""Burn-rate alert state: one row per component while its error budget burns too fast.

Write functions run inside the caller's transaction; claims are by row count,
so two workers never both raise or clear the same alert.
"""

from __future__ import annotations

from datetime import datetime

from sqlite_utils import Database

from shared.timeutil import from_iso, to_iso


def alerting_since(db: Database, component_id: str) -> datetime | None:
    row = db.execute(
        "SELECT alerting_since FROM burn_alerts WHERE component_id = ?", [component_id]
    ).fetchone()
    return from_iso(row[0]) if row else None


def claim_alert(db: Database, component_id: str, rate: float, now: datetime) -> bool:
    """Start alerting; False when another worker already did."""
    cursor = db.execute(
        "INSERT OR IGNORE INTO burn_alerts (component_id, alerting_since, burn_rate) VALUES (?, ?, ?)",
        [component_id, to_iso(now), rate],
    )
    return cursor.rowcount == 1


def clear_alert(db: Database, component_id: str, since: datetime) -> bool:
    """Stop alerting the episode that began at `since`; False when another worker already did."""
    cursor = db.execute(
        "DELETE FROM burn_alerts WHERE component_id = ? AND alerting_since = ?", [component_id, to_iso(since)]
    )
    return cursor.rowcount == 1


def note_rate(db: Database, component_id: str, rate: float) -> None:
    db.execute("UPDATE burn_alerts SET burn_rate = ? WHERE component_id = ?", [rate, component_id])
