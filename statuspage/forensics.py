"""The snapshot kept when an incident opens: what every location saw at that moment.

Bounded on purpose (it is stored in the incident row): the last result of each
affected check from every location with its error, timing breakdown, status
code and a response excerpt of at most EXCERPT_CHARS; host metrics of the
agents involved (their latest host-check result); and the other checks failing
at that moment.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.timeutil import to_iso
from statuspage.settings import Settings
from statuspage.storage.forensics import agent_facts, failing_states, latest_results
from statuspage.storage.sql import Store  # noqa: I001

EXCERPT_CHARS = 512
MAX_OTHER_FAILURES = 50


def snapshot(db: Store, settings: Settings, component_ids: list[str], now: datetime) -> dict[str, Any]:
    """Build the forensics dict for an incident on `component_ids` at `now`."""
    check_ids = [c.id for c in settings.checks if c.component in component_ids]
    results = [_result(row) for row in latest_results(db, check_ids)]
    agents = sorted({r["agent"] for r in results})
    host_checks = [c.id for c in settings.checks if c.kind == "host"]
    host = {
        row["agent"]: {"check_id": row["check_id"], "at": row["started_at"], "metrics": row["metrics"]}
        for row in latest_results(db, host_checks, agents)
    }
    others = [s for s in failing_states(db, MAX_OTHER_FAILURES * 4) if s["check_id"] not in check_ids]
    return {
        "taken_at": to_iso(now),
        "components": component_ids,
        "checks": check_ids,
        "results": results,
        "agents": agent_facts(db, agents),
        "host_metrics": host,
        "other_failing": others[:MAX_OTHER_FAILURES],
    }


def _result(row: dict[str, Any]) -> dict[str, Any]:
    detail = row["detail"]
    excerpt = detail.get("body_excerpt")
    return {
        "check_id": row["check_id"],
        "agent": row["agent"],
        "at": row["started_at"],
        "status": row["status"],
        "error": row["error"],
        "latency_ms": row["latency_ms"],
        "timings": row["metrics"],
        "status_code": detail.get("status_code"),
        "body_excerpt": excerpt[:EXCERPT_CHARS] if isinstance(excerpt, str) else None,
        "detail": {k: v for k, v in detail.items() if k != "body_excerpt"},
    }
