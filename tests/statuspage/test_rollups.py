"""Rollups maintained by the worker: incremental by watermark, late results, status history,
daily uptime with maintenance carved out, pruning, retention settings; a span read outside the
write lock and applied only while the watermark is where it was read."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from shared.ids import new_result_id
from shared.schema import Result
from shared.timeutil import to_iso
from statuspage.settings import ConfigError, Settings
from statuspage.storage import results as results_store
from statuspage.storage import rollups, sql
from statuspage.storage.rollups import (
    GRANULARITIES,
    DayFigures,
    apply_results_span,
    component_uptime,
    load_component_days,
    maintain,
    prune,
    read_results_span,
    refresh_component_days,
    roll_up_results,
)
from statuspage.storage.status import save_component_status
from statuspage.worker import Worker
from tests.conftest import FrozenClock

pytestmark = pytest.mark.engines("sqlite", "postgresql")


def report(
    client: FlaskClient, token: str, started: list[datetime], status: str, latency: float = 10.0
) -> None:
    body = {
        "agent": "edge-1",
        "agent_version": "0.1.0",
        # Sent now, by the collector's (frozen) clock: a report from an agent whose clock
        # is far off would be moved onto the collector's timeline (clock_skew_tolerance).
        "sent_at": client.application.config["UPWATCH_CLOCK"]().isoformat(),
        "results": [
            {"id": str(uuid.uuid4()), "check_id": "api-health", "started_at": t.isoformat(), "latency_ms": latency,
             "status": status}
            for t in started
        ],
    }  # fmt: skip
    response = client.post(
        "/api/v1/agent/reports",
        data=json.dumps(body),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.json


def rows(db: Any, table: str) -> list[tuple[Any, ...]]:
    return sql.tuples(db, f"SELECT * FROM {table} ORDER BY 1, 2, 3")


def test_worker_rolls_up_new_results_incrementally(
    client: FlaskClient, db: Any, agent_token: Callable[..., str], clock: FrozenClock, settings: Settings
) -> None:
    token = agent_token()
    t0 = clock()
    clock.advance(seconds=70)  # the last result is not in the collector's future
    report(client, token, [t0, t0 + timedelta(seconds=10), t0 + timedelta(seconds=70)], "up", 20.0)
    worker = Worker(settings, clock=clock)
    worker.run_pass()
    minute = rows(db, "rollups_minute")
    assert minute == [
        ("api-health", "edge-1", "2026-11-27T12:00", 2, 2, 0, 0, 40.0, 20.0),
        ("api-health", "edge-1", "2026-11-27T12:01", 1, 1, 0, 0, 20.0, 20.0),
    ]
    assert rows(db, "rollups_hour") == [("api-health", "edge-1", "2026-11-27T12", 3, 3, 0, 0, 60.0, 20.0)]
    # A second pass with nothing new changes nothing; a late result lands in its own (old) bucket.
    worker.run_pass()
    assert rows(db, "rollups_hour")[0][3] == 3
    report(client, token, [t0 + timedelta(seconds=5)], "down", 90.0)
    worker.run_pass()
    assert rows(db, "rollups_minute")[0] == (
        "api-health",
        "edge-1",
        "2026-11-27T12:00",
        3,
        2,
        0,
        1,
        130.0,
        90.0,
    )
    assert rows(db, "rollups_day") == [("api-health", "edge-1", "2026-11-27", 4, 3, 0, 1, 150.0, 90.0)]
    assert dict(((r[2]), r[3]) for r in rows(db, "result_counters")) == {"down": 1, "up": 3}


def test_status_history_and_daily_uptime_exclude_maintenance(db: Any) -> None:
    day0 = datetime(2026, 11, 20, tzinfo=UTC)
    with sql.write(db):
        save_component_status(db, {"api": "operational"}, day0)
        save_component_status(db, {"api": "major_outage"}, day0 + timedelta(hours=10))
        save_component_status(db, {"api": "operational"}, day0 + timedelta(hours=12))  # 2 h down
        save_component_status(db, {"api": "partial_outage"}, day0 + timedelta(days=1, hours=1))
        save_component_status(db, {"api": "operational"}, day0 + timedelta(days=1, hours=2))  # 1 h partial
        # Maintenance on day 0 covering one of the two outage hours.
        sql.run(
            db,
            "INSERT INTO maintenances (id, title, status, scheduled_for, scheduled_until, started_at, completed_at,"
            " created_at, updated_at) VALUES (1, 'm', 'completed', :s, :s, :s, :e, :c, :c)",
            {
                "s": to_iso(day0 + timedelta(hours=11)),
                "e": to_iso(day0 + timedelta(hours=12)),
                "c": to_iso(day0),
            },
        )
        sql.run(db, "INSERT INTO maintenance_components VALUES (1, 'api')")
    history = sql.tuples(db, "SELECT status, started_at, ended_at FROM component_status_history")
    assert [h[0] for h in history] == [
        "operational",
        "major_outage",
        "operational",
        "partial_outage",
        "operational",
    ]
    assert history[-1][2] is None and all(h[2] for h in history[:-1])
    now = day0 + timedelta(days=2, hours=12)
    refresh_component_days(db, now)
    days = load_component_days(db, date(2026, 11, 20), date(2026, 11, 22))["api"]
    first = days["2026-11-20"]
    assert first.major_s == 3600 and first.maintenance_s == 3600 and first.counted_s == 23 * 3600
    assert first.uptime == pytest.approx(1 - 1 / 23)
    assert days["2026-11-21"].uptime == pytest.approx(1 - 0.3 / 24)  # partial outage weighs 30%
    assert days["2026-11-22"].counted_s == 12 * 3600  # today so far
    assert component_uptime(db, "api", date(2026, 11, 20), date(2026, 11, 22)) == pytest.approx(
        1 - (3600 + 0.3 * 3600) / ((23 + 24 + 12) * 3600)
    )
    assert component_uptime(db, "nope", date(2026, 11, 20), date(2026, 11, 22)) is None


def test_day_figures_without_data() -> None:
    assert DayFigures().uptime is None
    assert DayFigures(maintenance_s=3600).uptime is None
    assert DayFigures(operational_s=10).uptime == 1.0


def test_prune_keeps_what_is_not_rolled_up_and_respects_retention(
    client: FlaskClient, db: Any, agent_token: Callable[..., str], clock: FrozenClock, settings: Settings
) -> None:
    token = agent_token()
    old = clock() - timedelta(days=20)
    report(client, token, [old, old + timedelta(seconds=30)], "up")
    # Not rolled up yet: pruning must not delete them.
    assert prune(db, settings, clock()) == 0
    assert sql.scalar(db, "SELECT count(*) FROM results") == 2
    roll_up_results(db)
    report(client, token, [clock()], "up")
    roll_up_results(db)
    prune(db, settings, clock())
    assert sql.scalar(db, "SELECT count(*) FROM results") == 1  # only the fresh one
    assert sql.scalar(db, "SELECT count(*) FROM rollups_minute") == 1  # 7d minute retention
    assert sql.scalar(db, "SELECT count(*) FROM rollups_hour") == 2  # kept 400 days
    # Far in the future everything old goes, but the newest raw row stays (the rowid watermark).
    prune(db, settings, clock() + timedelta(days=500))
    assert sql.scalar(db, "SELECT count(*) FROM results") == 1
    assert sql.scalar(db, "SELECT count(*) FROM rollups_hour") == 0


def test_maintain_runs_each_part_when_due(db: Any, settings: Settings, clock: FrozenClock) -> None:
    first = maintain(db, settings, clock())
    assert set(first) == {"results", "days", "pruned"}
    assert set(maintain(db, settings, clock() + timedelta(seconds=5))) == {"results"}
    assert "days" in maintain(db, settings, clock() + timedelta(seconds=65))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [({"raw_retention": "1h"}, "raw_retention"), ({"rollup_retention": "30d"}, "rollup_retention"),
     ({"minute_rollup_retention": "10m"}, "minute_rollup_retention"),
     ({"page": {"stale_after": "5s"}}, "page.stale_after"), ({"raw_retention": "soon"}, "raw_retention")],
)  # fmt: skip
def test_retention_settings_are_validated(
    make_settings: Callable[..., Settings], overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        make_settings(**overrides)


def test_two_workers_rolling_up_at_once_count_each_result_once(
    client: FlaskClient, db: Any, agent_token: Callable[..., str], clock: FrozenClock, settings: Settings
) -> None:
    """The HA setup runs two workers on one database: a range of results is folded by one of them."""
    token = agent_token()
    t0 = clock()
    clock.advance(seconds=600)
    sent = 0
    for round_ in range(6):
        report(client, token, [t0 + timedelta(seconds=round_ * 60 + i) for i in range(50)], "up")
        sent += 50
        handles = [sql.open_store(settings.database), sql.open_store(settings.database)]
        start = threading.Barrier(len(handles))

        def fold(handle: Any, together: threading.Barrier) -> None:
            together.wait()
            roll_up_results(handle)

        threads = [threading.Thread(target=fold, args=(handle, start)) for handle in handles]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for handle in handles:
            sql.close(handle)
        assert sum(r[3] for r in rows(db, "rollups_minute")) == sent
        assert sum(r[3] for r in rows(db, "result_counters")) == sent


def store_results(db: Any, agent: str, batch: list[Result], received_at: datetime) -> None:
    with sql.write(db):
        assert len(results_store.insert_results(db, agent, batch, received_at)) == len(batch)


def result_at(check_id: str, started_at: datetime, status: str, latency_ms: float) -> Result:
    return Result(id=new_result_id(), check_id=check_id, started_at=started_at, latency_ms=latency_ms,
                  status=status)  # type: ignore[arg-type]  # fmt: skip


def totals(db: Any) -> tuple[int, ...]:
    tables = [*GRANULARITIES, "result_counters"]
    column = {"result_counters": "total"}
    return tuple(
        int(sql.scalar(db, f"SELECT coalesce(sum({column.get(t, 'count')}), 0) FROM {t}")) for t in tables
    )


def test_a_span_another_worker_folded_meanwhile_is_not_added_again(
    store: sql.Store, clock: FrozenClock
) -> None:
    """Two workers: one reads a span, the other folds it first; the stale figures are dropped."""
    t0 = clock()
    store_results(store, "edge-1", [result_at("api", t0 + timedelta(seconds=i), "up" if i % 4 else "down", 10.0)
                                    for i in range(10)], t0)  # fmt: skip
    stale = read_results_span(store, sql.committed_arrival_horizon(store))
    assert stale is not None and stale.results == 10
    assert roll_up_results(store) == 10  # the other worker, between this one's read and its write
    assert not apply_results_span(store, stale)
    assert totals(store) == (10, 10, 10, 10)
    assert sql.rows(store, "SELECT status, total FROM result_counters ORDER BY status") == [
        {"status": "down", "total": 3},
        {"status": "up", "total": 7},
    ]
    # The next read starts where the other worker stopped and applies.
    store_results(store, "edge-1", [result_at("api", t0, "degraded", 30.0) for _ in range(5)], t0)
    fresh = read_results_span(store, sql.committed_arrival_horizon(store))
    assert fresh is not None and fresh.start == stale.end and fresh.results == 5
    assert apply_results_span(store, fresh)
    assert totals(store) == (15, 15, 15, 15)
    assert read_results_span(store, sql.committed_arrival_horizon(store)) is None
    assert roll_up_results(store) == 0


def raw_aggregate(db: Any, length: int) -> list[tuple[Any, ...]]:
    """What one rollup table must hold: the old per-table SQL, over every raw row at once."""
    return sql.tuples(
        db,
        f"SELECT check_id, agent, substr(started_at, 1, {length}), count(*),"
        " sum(CASE WHEN status = 'up' THEN 1 ELSE 0 END), sum(CASE WHEN status = 'degraded' THEN 1 ELSE 0 END),"
        " sum(CASE WHEN status = 'down' THEN 1 ELSE 0 END), sum(latency_ms), max(latency_ms)"
        " FROM results GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
    )


def test_rollups_equal_an_aggregate_of_the_raw_rows(
    store: sql.Store, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Mixed statuses, checks, agents, minutes, hours and days, folded in two spans whose
    buckets overlap (interleaved arrivals, late results), then one more pass of late results."""
    t0 = clock()
    statuses = ("up", "up", "degraded", "up", "down", "up", "up")
    # Offsets cross minutes, hours and a day boundary; latencies are binary fractions so
    # sums are exact whatever order they are added in.
    offsets = [timedelta(minutes=m, seconds=s) for m in (0, 1, 59, 61, 62, 725, 1500) for s in (0, 31)]
    arrived = 0
    for round_, agent in enumerate(("edge-1", "edge-2", "edge-1")):
        batch = [
            result_at(
                check, t0 + offset, statuses[(i + round_) % len(statuses)], 0.25 * ((i * 37 + round_) % 400)
            )
            for i, (check, offset) in enumerate((c, o) for o in offsets for c in ("api", "db", "web"))
        ]
        store_results(store, agent, batch, t0)
        arrived += len(batch)
    # Two spans per pass, the boundary in the middle of the rows the pass folds.
    monkeypatch.setattr(rollups, "RESULTS_BATCH", arrived // 2)
    assert roll_up_results(store) == arrived
    late = [result_at("api", t0 + timedelta(minutes=1, seconds=5), "down", 900.5),
            result_at("db", t0 - timedelta(days=1), "degraded", 0.5)]  # fmt: skip
    store_results(store, "edge-2", late, t0 + timedelta(days=1))
    assert roll_up_results(store) == len(late)
    for table, length in GRANULARITIES.items():
        expected = raw_aggregate(store, length)
        assert len(expected) > 10 and sql.tuples(store, f"SELECT * FROM {table} ORDER BY 1, 2, 3") == expected
    assert sql.tuples(store, "SELECT * FROM result_counters ORDER BY 1, 2, 3") == sql.tuples(
        store, "SELECT check_id, agent, status, count(*) FROM results GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
    )
    assert sorted({row[2] for row in sql.tuples(store, "SELECT * FROM result_counters")}) == [
        "degraded",
        "down",
        "up",
    ]
