"""The reads a forensics snapshot needs: last results per location, failing states, agents."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from statuspage.storage import sql
from statuspage.storage.sql import Store


def latest_results(
    db: Store, check_ids: Iterable[str], agents: Iterable[str] | None = None
) -> list[dict[str, Any]]:
    """The newest result of each (check, agent) among `check_ids` (and `agents`, if given)."""
    ids = sorted(set(check_ids))
    if not ids:
        return []
    marks, params = sql.in_list("check", ids)
    query = (
        "SELECT r.check_id, r.agent, r.started_at, r.received_at, r.latency_ms, r.status, r.error,"  # noqa: S608 - placeholders only
        " r.metrics, r.detail FROM results r JOIN check_states s ON s.check_id = r.check_id"
        " AND s.agent = r.agent AND s.last_result_at = r.started_at WHERE r.check_id IN (" + marks + ")"
    )
    if agents is not None:
        names = sorted(set(agents))
        if not names:
            return []
        agent_marks, agent_params = sql.in_list("agent", names)
        query += f" AND r.agent IN ({agent_marks})"
        params.update(agent_params)
    rows = []
    for data in sql.rows(db, query + " ORDER BY r.check_id, r.agent", params):
        data["metrics"] = json.loads(data["metrics"])
        data["detail"] = json.loads(data["detail"])
        rows.append(data)
    return rows


def failing_states(db: Store, limit: int = 200) -> list[dict[str, Any]]:
    """(check, agent) states that are down right now, oldest first."""
    return sql.rows(
        db,
        "SELECT check_id, agent, since, last_result_at, last_error FROM check_states WHERE status = 'down'"
        " ORDER BY since LIMIT :limit",
        {"limit": limit},
    )


def agent_facts(db: Store, names: Iterable[str]) -> list[dict[str, Any]]:
    """Last contact, version and clock skew of the named (live) agents."""
    wanted = sorted(set(names))
    if not wanted:
        return []
    marks, params = sql.in_list("name", wanted)
    return sql.rows(
        db,
        "SELECT name, labels, last_seen_at, agent_version, clock_skew_s FROM agents"  # noqa: S608 - placeholders only
        " WHERE revoked_at IS NULL AND name IN (" + marks + ") ORDER BY name",
        params,
    )
