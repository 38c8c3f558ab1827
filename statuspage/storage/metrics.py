"""The reads behind `/metrics` that no other storage module already answers."""

from __future__ import annotations

from statuspage.storage import sql
from statuspage.storage.sql import Store


def open_incidents_by_impact(db: Store) -> dict[str, int]:
    """impact -> unresolved incidents with it (drills excluded)."""
    return {
        str(impact): int(count)
        for impact, count in sql.tuples(
            db,
            "SELECT impact, count(*) FROM incidents WHERE drill = 0"
            " AND status NOT IN ('resolved', 'postmortem') GROUP BY impact",
        )
    }


def result_totals(db: Store) -> list[tuple[str, str, str, int]]:
    """(check, agent, status, total) from the lifetime counters, sorted."""
    return [
        (str(check_id), str(agent), str(status), int(total))
        for check_id, agent, status, total in sql.tuples(
            db, "SELECT check_id, agent, status, total FROM result_counters ORDER BY 1, 2, 3"
        )
    ]


def latest_metrics_json(db: Store, check_id: str, agent: str) -> str | None:
    """The metrics JSON of the newest result of (check, agent), or None when it has none."""
    found = sql.scalar(
        db,
        "SELECT metrics FROM results WHERE check_id = :check_id AND agent = :agent"
        " ORDER BY started_at DESC LIMIT 1",
        {"check_id": check_id, "agent": agent},
    )
    return None if found is None else str(found)
