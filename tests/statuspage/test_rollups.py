"""Rollups maintained by the worker: incremental by watermark, late results, status history,
daily uptime with maintenance carved out, pruning, retention settings."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from shared.timeutil import to_iso
from statuspage.settings import ConfigError, Settings
from statuspage.storage import sql
from statuspage.storage.rollups import (
    DayFigures,
    component_uptime,
    load_component_days,
    maintain,
    prune,
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
