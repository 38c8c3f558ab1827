"""Results and per-(check, agent) states: the facts ingest records."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from types import MappingProxyType

from sqlite_utils import Database

from shared.schema import Result
from shared.timeutil import from_iso, to_iso
from statuspage.engine.check_state import CheckState


def insert_results(db: Database, agent: str, results: Iterable[Result], received_at: datetime) -> set[str]:
    """Insert results, ignoring ids already stored. Returns the ids that were new.

    Call inside a transaction; duplicates (a replayed batch) are skipped by the primary key.
    """
    received = to_iso(received_at)
    new_ids: set[str] = set()
    for result in results:
        result_id = str(result.id)
        cursor = db.execute(
            "INSERT OR IGNORE INTO results (id, check_id, agent, started_at, received_at, latency_ms,"
            " status, error, metrics, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                result_id,
                result.check_id,
                agent,
                to_iso(result.started_at),
                received,
                result.latency_ms,
                result.status,
                result.error,
                json.dumps(result.metrics),
                json.dumps(result.detail),
            ],
        )
        if cursor.rowcount:
            new_ids.add(result_id)
    return new_ids


def load_states(db: Database, check_ids: Iterable[str] | None = None) -> list[CheckState]:
    """Current states, of the given checks or of all."""
    sql = "SELECT * FROM check_states"
    params: list[str] = []
    if check_ids is not None:
        ids = sorted(set(check_ids))
        if not ids:
            return []
        sql += f" WHERE check_id IN ({', '.join('?' for _ in ids)})"
        params = ids
    cursor = db.execute(sql, params)
    columns = [c[0] for c in cursor.description]
    states = []
    for row in cursor.fetchall():
        data = dict(zip(columns, row, strict=True))
        states.append(
            CheckState(
                check_id=data["check_id"],
                agent=data["agent"],
                status=data["status"],
                since=from_iso(data["since"]),
                consecutive_failures=data["consecutive_failures"],
                consecutive_successes=data["consecutive_successes"],
                last_result_at=from_iso(data["last_result_at"]),
                last_latency_ms=data["last_latency_ms"],
                last_error=data["last_error"],
                recent=data.get("recent") or "",
                breaches=MappingProxyType(
                    {rule: from_iso(at) for rule, at in json.loads(data.get("breaches") or "{}").items()}
                ),
            )
        )
    return states


def save_state(db: Database, state: CheckState, previous_status: str | None) -> None:
    """Upsert a state; record a flip when its status changed. Call inside a transaction."""
    db.execute(
        "INSERT INTO check_states (check_id, agent, status, since, consecutive_failures,"
        " consecutive_successes, last_result_at, last_latency_ms, last_error, recent, breaches)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (check_id, agent) DO UPDATE SET status = excluded.status,"
        " since = excluded.since, consecutive_failures = excluded.consecutive_failures,"
        " consecutive_successes = excluded.consecutive_successes,"
        " last_result_at = excluded.last_result_at, last_latency_ms = excluded.last_latency_ms,"
        " last_error = excluded.last_error, recent = excluded.recent, breaches = excluded.breaches",
        [
            state.check_id,
            state.agent,
            state.status,
            to_iso(state.since),
            state.consecutive_failures,
            state.consecutive_successes,
            to_iso(state.last_result_at),
            state.last_latency_ms,
            state.last_error,
            state.recent,
            json.dumps({rule: to_iso(at) for rule, at in state.breaches.items()}),
        ],
    )
    old = previous_status or "unknown"
    if old != state.status:
        db.execute(
            "INSERT INTO flips (check_id, agent, at, old_status, new_status) VALUES (?, ?, ?, ?, ?)",
            [state.check_id, state.agent, to_iso(state.since), old, state.status],
        )


def count_results(db: Database) -> int:
    return int(db.execute("SELECT count(*) FROM results").fetchone()[0])
