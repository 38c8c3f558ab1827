"""The stored, current status of each component (written by evaluation, read by pages),
and its history as intervals (`component_status_history`), which daily uptime is built from."""

from __future__ import annotations

from datetime import datetime

from sqlite_utils import Database

from shared.timeutil import from_iso, to_iso


def load_component_status(db: Database) -> dict[str, tuple[str, datetime]]:
    """component id -> (status, since when it was last changed)."""
    rows = db.execute("SELECT component_id, status, updated_at FROM component_status").fetchall()
    return {row[0]: (row[1], from_iso(row[2])) for row in rows}


def save_component_status(db: Database, statuses: dict[str, str], now: datetime) -> list[str]:
    """Store statuses that changed; return the ids that changed. Call inside a transaction.

    Each change also closes the component's open history interval and opens a new one.
    """
    current = {cid: status for cid, (status, _at) in load_component_status(db).items()}
    changed = [cid for cid, status in statuses.items() if current.get(cid) != status]
    at = to_iso(now)
    for component_id in changed:
        db.execute(
            "INSERT INTO component_status (component_id, status, updated_at) VALUES (?, ?, ?)"
            " ON CONFLICT (component_id) DO UPDATE SET status = excluded.status,"
            " updated_at = excluded.updated_at",
            [component_id, statuses[component_id], at],
        )
        db.execute(
            "UPDATE component_status_history SET ended_at = ? WHERE component_id = ? AND ended_at IS NULL",
            [at, component_id],
        )
        db.execute(
            "INSERT INTO component_status_history (component_id, status, started_at) VALUES (?, ?, ?)",
            [component_id, statuses[component_id], at],
        )
    return changed
