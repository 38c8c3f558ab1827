"""The storage modules already on the seam, on both engines (the `engine` fixture parameter):
a query one engine refuses fails here. Each test drives a module's real functions against a
migrated database (SQLite file / throwaway PostgreSQL) and checks what they return."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from shared.ids import new_result_id
from shared.schema import Result
from statuspage.storage import (
    api_tokens,
    audit,
    burn_alerts,
    engine_state,
    outbox,
    public_reads,
    rollups,
    sql,
)
from statuspage.storage import results as results_store
from statuspage.storage import status as status_store

pytestmark = pytest.mark.engines("sqlite", "postgresql")

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def result(check_id: str, status: str, minute: int) -> Result:
    return Result(
        id=new_result_id(),
        check_id=check_id,
        started_at=T0 + timedelta(minutes=minute),
        latency_ms=10.0 + minute,
        status=status,  # type: ignore[arg-type]
    )


def test_results_fold_into_rollups_once(store: sql.Store) -> None:
    batch = [result("api", "up" if minute % 3 else "down", minute) for minute in range(30)]
    with sql.write(store):
        stored = results_store.insert_results(store, "edge-1", batch, T0 + timedelta(hours=1))
        again = results_store.insert_results(store, "edge-1", batch[:5], T0 + timedelta(hours=1))
    assert len(stored) == 30 and again == []
    assert results_store.count_results(store) == 30
    assert rollups.roll_up_results(store) == 30
    assert rollups.roll_up_results(store) == 0  # the watermark moved: nothing is counted twice
    counters = sql.rows(store, "SELECT status, total FROM result_counters ORDER BY status")
    assert counters == [{"status": "down", "total": 10}, {"status": "up", "total": 20}]
    minutes = sql.scalar(store, "SELECT sum(count) FROM rollups_minute")
    assert minutes == 30


def test_outbox_enqueue_once_claim_and_deliver(store: sql.Store) -> None:
    key = "incident:1:opened:ops"
    common = {
        "event": "incident.opened",
        "destination_kind": "webhook",
        "destination": "ops",
        "payload": {"a": 1},
    }
    with sql.write(store):
        assert outbox.enqueue(store, idempotency_key=key, now=T0, **common)
        assert not outbox.enqueue(store, idempotency_key=key, now=T0, **common)
    with sql.write(store):
        claimed = outbox.claim_due(store, "w1", T0, T0 + timedelta(minutes=1), ["webhook"], [], 10)
    with sql.write(store):
        assert outbox.claim_due(store, "w2", T0, T0 + timedelta(minutes=1), ["webhook"], [], 10) == []
    assert len(claimed) == 1
    row_id = int(claimed[0][0])
    with sql.write(store):
        outbox.mark_delivered(store, [row_id], T0)
    assert outbox.state_counts(store)["delivered"] == 1


def test_api_tokens_audit_burn_alerts_engine_state(store: sql.Store) -> None:
    with sql.write(store):
        token, secret = api_tokens.create_token(store, "ci", "read", "ops", T0)
        entry = audit.record(store, T0, "ops", "token.create", "ci", "127.0.0.1", {"scope": "read"})
    assert api_tokens.authenticate(store, secret, T0) is not None
    assert [t.name for t in api_tokens.list_tokens(store)] == ["ci"]
    with sql.write(store):
        assert api_tokens.revoke_token(store, "ci", T0)
    assert api_tokens.authenticate(store, secret, T0) is None
    assert entry > 0 and audit.recent(store)[0].action == "token.create"
    with sql.write(store):
        assert burn_alerts.claim_alert(store, "api", 14.4, T0)
        assert not burn_alerts.claim_alert(store, "api", 14.4, T0)
    assert burn_alerts.alerting_since(store, "api") == T0
    with sql.write(store):
        engine_state.set_time(store, "evaluated_at", T0)
        engine_state.set_time(store, "evaluated_at", T0 + timedelta(seconds=1))
    assert engine_state.get_time(store, "evaluated_at") == T0 + timedelta(seconds=1)
    assert token.name == "ci"


def test_component_status_and_public_reads(store: sql.Store) -> None:
    with sql.write(store):
        changed = status_store.save_component_status(store, {"api": "major_outage", "web": "operational"}, T0)
        status_store.record_shown_history(store, T0)
    assert sorted(changed) == ["api", "web"]
    assert status_store.load_computed_status(store)["api"][0] == "major_outage"
    stamp, _times = public_reads.data_stamp(store)
    assert stamp
    assert public_reads.open_incidents(store) == []
    public_reads.ping(store)


def test_insert_all_new_stores_a_new_batch_and_refuses_a_replay(store: sql.Store) -> None:
    """Ingest's fast path trusts the insert's row count on both engines: a batch with one stored
    id raises, and the transaction it ran in stores nothing of it."""
    received = T0 + timedelta(hours=1)
    first = results_store.prepare_results("edge-1", [result("api", "up", m) for m in range(5)], received)
    with sql.write(store):
        results_store.insert_all_new(store, first)
    assert results_store.count_results(store) == 5
    later = [result("api", "down", m) for m in range(5, 8)]
    replay = results_store.prepare_results("edge-1", [*first.results[3:], *later], received)
    with pytest.raises(results_store.SomeStoredAlready, match="2 of 5"), sql.write(store):
        results_store.insert_all_new(store, replay)
    assert results_store.count_results(store) == 5  # rolled back: none of the three new ones
    with sql.write(store):
        new = results_store.insert_prepared(store, replay)
    assert [str(r.id) for r in new] == [str(r.id) for r in later]
    assert results_store.count_results(store) == 8


def test_a_report_of_one_result_gets_the_row_it_would_get_in_a_batch() -> None:
    """Most reports carry one result: they skip the batch machinery, not a byte of the row."""
    parsed = [
        Result.model_validate_json(
            json.dumps(
                {
                    "id": str(new_result_id()),
                    "check_id": "api",
                    "started_at": "2026-11-27T14:01:02.345678+02:00",
                    "latency_ms": 12.5,
                    "status": "down",
                    "error": "refused",
                    "metrics": {"probe_duration_seconds": 0.0125},
                    "detail": {"code": 503},
                }
            )
        ),
        result("api", "up", 90),
    ]
    batch = results_store.prepare_results("edge-1", parsed, T0)
    for alone in parsed:
        one = results_store.prepare_results("edge-1", [alone], T0)
        index = batch.ids.index(str(alone.id))
        assert (one.ids, one.rows, one.results) == ([batch.ids[index]], [batch.rows[index]], [alone])
    assert batch.rows[0][3] == "2026-11-27T12:01:02.345+00:00"


def test_prepared_rows_carry_canonical_ids_and_times(store: sql.Store) -> None:
    batch = [result("api", "up", m) for m in (3, 1, 2)]
    prepared = results_store.prepare_results("edge-1", batch, T0)
    assert prepared.ids == [str(r.id) for r in sorted(batch, key=lambda r: r.started_at)]
    assert [row[3] for row in prepared.rows] == [
        "2026-11-27T12:01:00.000+00:00",
        "2026-11-27T12:02:00.000+00:00",
        "2026-11-27T12:03:00.000+00:00",
    ]
