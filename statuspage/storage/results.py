"""Results and per-(check, agent) states: the facts ingest records."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any

from pydantic import TypeAdapter
from pydantic_core import to_json

from shared.schema import Result
from shared.timeutil import from_iso, to_iso, to_iso_all
from statuspage.engine.check_state import EMPTY_BREACHES, CheckState
from statuspage.storage import sql
from statuspage.storage.agents import renew_state_serials
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


# Canonical UUID text (lowercase, hyphenated: what str() gives) for a whole batch in one
# pydantic-core call; str() per id runs UUID.__str__ in Python, about five times slower.
_ID_TEXTS = TypeAdapter(list[uuid.UUID])


def prepare_results(agent: str, results: Sequence[Result], received_at: datetime) -> PreparedResults:
    """Encode a batch for `insert_prepared`, outside the write transaction (pure CPU work).

    An id repeated inside the batch counts once; rows are sorted by `started_at`
    (its stored text: UTC to the millisecond, so it sorts as time does) and land
    in event-time order even when a backlog is replayed late.
    """
    if len(results) == 1:
        return _prepare_one(agent, results[0], received_at)
    ids: list[str] = _ID_TEXTS.dump_python([r.id for r in results], mode="json")
    started = to_iso_all([r.started_at for r in results])
    unique: dict[str, tuple[str, Result]] = {}
    for result_id, started_at, result in zip(ids, started, results, strict=True):
        unique.setdefault(result_id, (started_at, result))
    # Sorting the texts, not the datetimes: comparing aware datetimes calls their
    # tzinfo (pydantic's) on every comparison. Python's sort is stable, so results
    # of the same millisecond keep the order the agent sent them in.
    ordered = sorted(unique.items(), key=lambda item: item[1][0])
    received = to_iso(received_at)
    rows: list[tuple[object, ...]] = [
        (
            result_id,
            r.check_id,
            agent,
            started_at,
            received,
            r.latency_ms,
            r.status,
            r.error,
            to_json(r.metrics).decode() if r.metrics else "{}",
            to_json(r.detail).decode() if r.detail else "{}",
        )
        for result_id, (started_at, r) in ordered
    ]
    return PreparedResults([r for _i, (_s, r) in ordered], [i for i, _r in ordered], rows)


def _prepare_one(agent: str, r: Result, received_at: datetime) -> PreparedResults:
    # Most reports carry one result: the same row without the batch machinery (a batch-1
    # report spends less on this than on one pydantic call's overhead). Same texts as above.
    result_id = str(r.id)
    row = (
        result_id,
        r.check_id,
        agent,
        to_iso(r.started_at),
        to_iso(received_at),
        r.latency_ms,
        r.status,
        r.error,
        to_json(r.metrics).decode() if r.metrics else "{}",
        to_json(r.detail).decode() if r.detail else "{}",
    )
    return PreparedResults([r], [result_id], [row])


class SomeStoredAlready(Exception):
    """`insert_all_new` found ids of its batch stored already: roll the transaction back.

    Then store the batch with `insert_prepared`, which reads which ids are stored.
    """


def insert_all_new(db: Store, batch: PreparedResults) -> None:
    """Inside a write transaction: insert the whole batch, expecting none of its ids stored yet.

    Almost every report is new, so the read of stored ids `insert_prepared`
    makes is skipped on this path: the insert tells. A row whose id is stored
    already is left out (`ON CONFLICT DO NOTHING`), and fewer rows inserted than
    given means a replay: raises SomeStoredAlready, and the caller rolls back and
    uses `insert_prepared`. On SQLite the write lock this saves time in is the
    file's one writer, ingest's bottleneck.
    """
    if not batch.rows:
        return
    inserted = sql.insert_many(db, "results", RESULT_COLUMNS, batch.rows, skip_conflicts_on=("id",))
    if inserted != len(batch.rows):
        raise SomeStoredAlready(
            f"{len(batch.rows) - inserted} of {len(batch.rows)} results are stored already"
        )


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


STATE_COLUMNS = (
    "check_id", "agent", "status", "since", "consecutive_failures", "consecutive_successes",
    "last_result_at", "last_latency_ms", "last_error", "recent", "breaches",
)  # fmt: skip
_STATE_SELECT = f"SELECT {', '.join(STATE_COLUMNS)} FROM check_states"  # noqa: S608 - our names
# One (check, agent) state as stored, in STATE_COLUMNS order: the text itself, so two reads
# can be compared exactly (a state is a function of its row, nothing else).
StateRow = tuple[Any, ...]


def agent_state_rows(db: Store, agent: str, check_ids: Iterable[str]) -> dict[str, StateRow]:
    """check id -> the stored row of one agent's state of each of `check_ids` that has one."""
    ids = sorted(set(check_ids))
    if not ids:
        return {}
    marks, params = sql.in_list("check", ids)
    rows = sql.tuples(
        db, f"{_STATE_SELECT} WHERE agent = :agent AND check_id IN ({marks})", {**params, "agent": agent}
    )
    return {row[0]: tuple(row) for row in rows}


def state_from_row(row: StateRow) -> CheckState:
    """The CheckState a stored row (STATE_COLUMNS order) holds."""
    breaches_text = row[10] or "{}"
    return CheckState(
        check_id=row[0],
        agent=row[1],
        status=row[2],
        since=from_iso(row[3]),
        consecutive_failures=row[4],
        consecutive_successes=row[5],
        last_result_at=from_iso(row[6]),
        last_latency_ms=row[7],
        last_error=row[8],
        recent=row[9] or "",
        breaches=EMPTY_BREACHES
        if breaches_text == "{}"
        else MappingProxyType({rule: from_iso(at) for rule, at in json.loads(breaches_text).items()}),
    )


def load_states(db: Store, check_ids: Iterable[str] | None = None) -> list[CheckState]:
    """Current states, of the given checks or of all."""
    query = _STATE_SELECT
    params: dict[str, str] = {}
    if check_ids is not None:
        ids = sorted(set(check_ids))
        if not ids:
            return []
        marks, params = sql.in_list("check", ids)
        query += f" WHERE check_id IN ({marks})"
    return [state_from_row(row) for row in sql.tuples(db, query, params)]


def save_states(
    db: Store, changes: Iterable[tuple[CheckState, str | None]], *, serial_renewed: bool = False
) -> None:
    """Upsert states, each given with the status it had before (None: it had no row), in one
    batch; record a flip for each whose status changed. Call inside a transaction.

    Every write of an agent's states renews its state serial (`agents.record_seen`):
    `serial_renewed` says this transaction's ingest did already; otherwise it is done here.
    """
    states: list[tuple[object, ...]] = []
    flips: list[dict[str, Any]] = []
    given = list(changes)
    # Both times of every state as text in one call (to_iso per value is the slow part here).
    times = to_iso_all([moment for state, _old in given for moment in (state.since, state.last_result_at)])
    for index, (state, previous_status) in enumerate(given):
        since, last_result_at = times[2 * index], times[2 * index + 1]
        breaches = (
            json.dumps({rule: to_iso(at) for rule, at in state.breaches.items()}) if state.breaches else "{}"
        )
        # STATE_COLUMNS order.
        states.append(
            (
                state.check_id,
                state.agent,
                state.status,
                since,
                state.consecutive_failures,
                state.consecutive_successes,
                last_result_at,
                state.last_latency_ms,
                state.last_error,
                state.recent,
                breaches,
            )
        )
        old = previous_status or "unknown"
        if old != state.status:
            flips.append(
                {
                    "check_id": state.check_id,
                    "agent": state.agent,
                    "at": since,
                    "old": old,
                    "new": state.status,
                }
            )
    if not states:
        return
    if not serial_renewed:
        renew_state_serials(db, {state.agent for state, _old in given})
    sql.insert_many(db, "check_states", STATE_COLUMNS, states, update_on_conflict=("check_id", "agent"))
    if flips:
        sql.run_many(
            db,
            "INSERT INTO flips (check_id, agent, at, old_status, new_status)"
            " VALUES (:check_id, :agent, :at, :old, :new)",
            flips,
        )


def count_results(db: Store) -> int:
    return int(sql.scalar(db, "SELECT count(*) FROM results"))


def newest_received_at(db: Store) -> str | None:
    """The latest `received_at` of any stored result (ISO text), or None when there is none."""
    found = sql.scalar(db, "SELECT max(received_at) FROM results")
    return None if found is None else str(found)
