"""Burn-rate alert state: one row per component while its error budget burns too fast.

Write functions run inside the caller's transaction; claims are by row count,
so two workers never both raise or clear the same alert.
"""

from __future__ import annotations

from datetime import datetime

from shared.timeutil import from_iso, to_iso
from statuspage.storage import sql
from statuspage.storage.sql import Store


def alerting_since(db: Store, component_id: str) -> datetime | None:
    found = sql.scalar(
        db, "SELECT alerting_since FROM burn_alerts WHERE component_id = :id", {"id": component_id}
    )
    return from_iso(found) if found else None


def claim_alert(db: Store, component_id: str, rate: float, now: datetime) -> bool:
    """Start alerting; False when another worker already did."""
    changed = sql.run(
        db,
        "INSERT INTO burn_alerts (component_id, alerting_since, burn_rate) VALUES (:id, :now, :rate)"
        " ON CONFLICT (component_id) DO NOTHING",
        {"id": component_id, "now": to_iso(now), "rate": rate},
    )
    return changed == 1


def clear_alert(db: Store, component_id: str, since: datetime) -> bool:
    """Stop alerting the episode that began at `since`; False when another worker already did."""
    changed = sql.run(
        db,
        "DELETE FROM burn_alerts WHERE component_id = :id AND alerting_since = :since",
        {"id": component_id, "since": to_iso(since)},
    )
    return changed == 1


def note_rate(db: Store, component_id: str, rate: float) -> None:
    sql.run(
        db,
        "UPDATE burn_alerts SET burn_rate = :rate WHERE component_id = :id",
        {"rate": rate, "id": component_id},
    )
