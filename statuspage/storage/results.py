"""Results and per-(check, agent) states: the facts ingest records."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType

from pydantic_core import to_json

from shared.schema import Result
from shared.timeutil import from_iso, to_iso
from statuspage.engine.check_state import CheckState
from statuspage.storage import sql
from statuspage.storage.sql import Store

RESULT_COLUMNS = (
    "id", "check_id", "agent", "started_at", "received_at",
    "latency_ms", "status", "error", "metrics", "detail",
)  # fmt: skip


@dataclass(frozen=True)
class PreparedResults:
    """A batch ready to insert: unique by id, in event-time order, rows encoded (RESULT_COLUMNS order)."""

    results: list[Result]
    ids: list[str]
    rows: list[tuple[object, ...]]


def prepare_results(agent: str, results: Sequence[Result], received_at: datetime) -> PreparedResults:
    """Encode a batch for `insert_prepared`, outside the write transaction (pure CPU work).

    An id repeated inside the batch counts once; rows are sorted by `started_at`
    so they land in event-time order even when a backlog is replayed late.
    """
    unique: dict[str, Result] = {}
    for result in results:
        unique.setdefault(str(result.id), result)
    ordered = sorted(unique.items(), key=lambda item: item[1].started_at)
    received = to_iso(received_at)
    rows: list[tuple[object, ...]] = [
        (
            result_id,
            r.check_id,
            agent,
            to_iso(r.started_at),
            received,
            r.latency_ms,
            r.status,
            r.error,
            to_json(r.metrics).decode() if r.metrics else "{}",
            to_json(r.detail).decode() if r.detail else "{}",
        )
        for result_id, r in ordered
    ]
    return PreparedResults([r for _i, r in ordered], [i for i, _r in ordered], rows)


def insert_prepared(db: Store, batch: PreparedResults) -> list[Result]:
    """Insert the results not stored yet; return those, in event-time order.

    Call inside a write transaction (`sql.write`: the read of existing ids and
    the insert must see the same database). One SELECT finds the ids already
    stored (a replayed batch), one batch insert stores the rest: no per-row query.
    """
    if not batch.ids:
        return []
    stored = existing_ids(db, batch.ids)
    if not stored:
        rows, new = batch.rows, batch.results
    else:
        keep = [index for index, result_id in enumerate(batch.ids) if result_id not in stored]
        rows = [batch.rows[i] for i in keep]
        new = [batch.results[i] for i in keep]
    sql.insert_many(db, "results", RESULT_COLUMNS, rows)
    return new


def insert_results(db: Store, agent: str, results: Sequence[Result], received_at: datetime) -> list[Result]:
    """`prepare_results` then `insert_prepared`: returns the new results, in event-time order."""
    return insert_prepared(db, prepare_results(agent, results, received_at))


def existing_ids(db: Store, ids: list[str]) -> set[str]:
    """Which of `ids` are stored already (one indexed query per 500 ids)."""
    found: set[str] = set()
    for start in range(0, len(ids), 500):
        marks, params = sql.in_list("id", ids[start : start + 500])
        rows = sql.tuples(db, f"SELECT id FROM results WHERE id IN ({marks})", params)  # noqa: S608
        found.update(row[0] for row in rows)
    return found


def state_marks(db: Store, agent: str, check_ids: Iterable[str]) -> dict[str, tuple[str, str]]:
    """check id -> (status, last_result_at as stored) of one agent's states: a cheap
    before/after fingerprint for deciding whether evaluation can have anything to do."""
    ids = sorted(set(check_ids))
    if not ids:
        return {}
    marks, params = sql.in_list("check", ids)
    rows = sql.tuples(
        db,
        f"SELECT check_id, status, last_result_at FROM check_states WHERE agent = :agent AND check_id IN ({marks})",  # noqa: S608, E501
        {**params, "agent": agent},
    )
    return {row[0]: (row[1], row[2]) for row in rows}


def load_states(db: Store, check_ids: Iterable[str] | None = None) -> list[CheckState]:
    """Current states, of the given checks or of all."""
    query = "SELECT * FROM check_states"
    params: dict[str, str] = {}
    if check_ids is not None:
        ids = sorted(set(check_ids))
        if not ids:
            return []
        marks, params = sql.in_list("check", ids)
        query += f" WHERE check_id IN ({marks})"
    states = []
    for data in sql.rows(db, query, params):
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


def save_state(db: Store, state: CheckState, previous_status: str | None) -> None:
    """Upsert a state; record a flip when its status changed. Call inside a transaction."""
    sql.run(
        db,
        "INSERT INTO check_states (check_id, agent, status, since, consecutive_failures,"
        " consecutive_successes, last_result_at, last_latency_ms, last_error, recent, breaches)"
        " VALUES (:check_id, :agent, :status, :since, :consecutive_failures, :consecutive_successes,"
        " :last_result_at, :last_latency_ms, :last_error, :recent, :breaches)"
        " ON CONFLICT (check_id, agent) DO UPDATE SET status = excluded.status,"
        " since = excluded.since, consecutive_failures = excluded.consecutive_failures,"
        " consecutive_successes = excluded.consecutive_successes,"
        " last_result_at = excluded.last_result_at, last_latency_ms = excluded.last_latency_ms,"
        " last_error = excluded.last_error, recent = excluded.recent, breaches = excluded.breaches",
        {
            "check_id": state.check_id,
            "agent": state.agent,
            "status": state.status,
            "since": to_iso(state.since),
            "consecutive_failures": state.consecutive_failures,
            "consecutive_successes": state.consecutive_successes,
            "last_result_at": to_iso(state.last_result_at),
            "last_latency_ms": state.last_latency_ms,
            "last_error": state.last_error,
            "recent": state.recent,
            "breaches": json.dumps({rule: to_iso(at) for rule, at in state.breaches.items()}),
        },
    )
    old = previous_status or "unknown"
    if old != state.status:
        sql.run(
            db,
            "INSERT INTO flips (check_id, agent, at, old_status, new_status)"
            " VALUES (:check_id, :agent, :at, :old, :new)",
            {
                "check_id": state.check_id,
                "agent": state.agent,
                "at": to_iso(state.since),
                "old": old,
                "new": state.status,
            },
        )


def count_results(db: Store) -> int:
    return int(sql.scalar(db, "SELECT count(*) FROM results"))


def newest_received_at(db: Store) -> str | None:
    """The latest `received_at` of any stored result (ISO text), or None when there is none."""
    found = sql.scalar(db, "SELECT max(received_at) FROM results")
    return None if found is None else str(found)
