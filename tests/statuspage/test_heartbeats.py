"""Heartbeat checks on the collector: healthchecks.io-style ping endpoints, random stored keys,
deadlines from periods and cron schedules (with time zones) noticed by the worker."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from shared.checks import parse_check
from statuspage import create_app
from statuspage.evaluate import evaluate_components
from statuspage.heartbeats import check_heartbeats
from statuspage.settings import ConfigError, Settings
from statuspage.storage import heartbeats as store
from statuspage.worker import Worker
from tests.conftest import BASE_CONFIG, T0, FrozenClock
from tests.helpers import BIN

HEARTBEAT_CONFIG: dict[str, Any] = {
    "components": [*BASE_CONFIG["components"], {"id": "jobs", "name": "Jobs"}],
    "checks": [
        *BASE_CONFIG["checks"],
        {"id": "backup", "component": "jobs", "kind": "heartbeat", "period": "1h", "grace": "10m"},
        {
            "id": "nightly",
            "kind": "heartbeat",
            "schedule": "0 3 * * *",
            "tz": "Europe/Berlin",
            "grace": "1h",
        },
    ],
}


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(**HEARTBEAT_CONFIG)


class Tick:
    """The heartbeat part of a worker pass (what `Worker.run_pass` calls), on the test's clock.

    Most tests use this rather than the whole pass, whose notifier starts a delivery
    thread; one test runs the real `Worker.run_pass`.
    """

    def __init__(self, db: Any, settings: Settings, clock: FrozenClock):
        self.db, self.settings, self.clock = db, settings, clock

    def run_pass(self) -> None:
        check_heartbeats(self.db, self.settings, self.clock())
        evaluate_components(self.db, self.settings, self.clock())


@pytest.fixture
def worker(db: Any, settings: Settings, clock: FrozenClock) -> Tick:
    tick = Tick(db, settings, clock)
    tick.run_pass()  # makes the ping keys
    return tick


def key_of(db: Any, check_id: str) -> str:
    return store.load_heartbeats(db)[check_id].ping_key


def state(db: Any, check_id: str) -> tuple[str, str | None] | None:
    row = db.execute(
        "SELECT status, last_error FROM check_states WHERE check_id = ? AND agent = 'collector'", [check_id]
    ).fetchone()
    return (row[0], row[1]) if row else None


def component(db: Any, component_id: str) -> str | None:
    row = db.execute("SELECT status FROM component_status WHERE component_id = ?", [component_id]).fetchone()
    return row[0] if row else None


def count_results(db: Any, check_id: str) -> int:
    return int(db.execute("SELECT count(*) FROM results WHERE check_id = ?", [check_id]).fetchone()[0])


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST"])
def test_success_ping_makes_the_check_up(client: FlaskClient, db: Any, worker: Tick, method: str) -> None:
    response = client.open(f"/ping/{key_of(db, 'backup')}", method=method)
    assert response.status_code == 200
    if method != "HEAD":
        assert response.get_data(as_text=True) == "OK"
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        assert response.headers["Ping-Body-Limit"] == "10000"
    assert state(db, "backup") == ("up", None)
    assert component(db, "jobs") == "operational"
    assert db.execute("SELECT agent FROM results WHERE check_id = 'backup'").fetchone()[0] == "collector"


def test_keys_are_random_and_stored(
    db: Any, worker: Tick, make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    key = key_of(db, "backup")
    assert "backup" not in key and len(key) >= 20
    worker.run_pass()
    assert key_of(db, "backup") == key  # stable once made
    other = make_settings(**HEARTBEAT_CONFIG, database=str(tmp_path / "other.db"))
    from statuspage.db import open_and_migrate

    other_db = open_and_migrate(other.database)
    check_heartbeats(other_db, other, T0)
    assert key_of(other_db, "backup") != key


def test_fail_and_exit_status(client: FlaskClient, db: Any, worker: Tick) -> None:
    key = key_of(db, "backup")
    assert client.post(f"/ping/{key}/fail", data="pg_dump: connection refused\n").status_code == 200
    assert state(db, "backup") == ("down", "the job reported failure: pg_dump: connection refused")
    assert component(db, "jobs") == "major_outage"
    assert client.get(f"/ping/{key}/0").status_code == 200
    assert state(db, "backup") == ("up", None)
    assert client.get(f"/ping/{key}/3").status_code == 200
    assert state(db, "backup") == ("down", "the job reported exit status 3")


@pytest.mark.parametrize(
    ("path", "status", "text"),
    [
        ("/ping/unknown-key", 404, "not found"),
        ("/ping/unknown-key/", 404, "not found"),
        ("/ping/{key}/256", 400, "invalid url format"),
        ("/ping/{key}/999999999999", 400, "invalid url format"),
        ("/ping/{key}/nope", 404, "not found"),
        ("/ping/{key}?rid=" + "x" * 65, 400, "invalid uuid format"),
        ("/ping/{key}?rid=run-a", 400, "invalid uuid format"),
        ("/ping/{key}/start?rid=a%20b", 400, "invalid uuid format"),
        ("/ping/{key}?rid=8f1e0c5a-3b1e-4c55-9d1a-0b7c1f0e9a2", 400, "invalid uuid format"),
        ("/ping/%00", 404, None),
        ("/ping/{ping_key}/no-such-slug", 404, "not found"),
        ("/ping/{ping_key}/no-such-slug?create=1", 404, "not found"),
        ("/ping/{ping_key}/backup/256", 400, "invalid url format"),
        ("/ping/{ping_key}/backup/nope", 404, "not found"),
        ("/ping/{ping_key}/Backup", 400, "invalid url format"),  # healthchecks: slugs are lower case
        ("/ping/{key}?rid=", 400, "invalid uuid format"),
        ("/ping/wrong-ping-key/backup", 404, "not found"),
        ("/ping/{key}/backup", 404, "not found"),
    ],
)
def test_bad_pings_are_refused_and_store_nothing(
    client: FlaskClient, db: Any, worker: Tick, path: str, status: int, text: str | None
) -> None:
    response = client.get(path.format(key=key_of(db, "backup"), ping_key=store.ping_key(db)))
    assert response.status_code == status
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    if text:
        assert response.get_data(as_text=True) == text
    assert db.execute("SELECT count(*) FROM heartbeat_pings").fetchone()[0] == 0


def test_body_is_stored_capped(client: FlaskClient, db: Any, worker: Tick) -> None:
    key = key_of(db, "backup")
    big = "log line\n" * 400_000  # 3.6 MB: above the app's request limit, still accepted
    assert client.post(f"/ping/{key}/log", data=big).status_code == 200
    (ping,) = store.recent_pings(db, "backup")
    assert ping["kind"] == "log" and ping["body_truncated"] == 1
    assert len(ping["body"]) == 10_000  # type: ignore[arg-type]
    assert state(db, "backup") is None  # a log ping changes nothing


def test_start_and_end_measure_the_run_paired_by_rid(
    client: FlaskClient, db: Any, worker: Tick, clock: FrozenClock
) -> None:
    key = key_of(db, "backup")
    run_a, run_b = "5f2b3c1e-0d4a-4e8b-9c7d-1a2b3c4d5e6f", "A0B1C2D3-E4F5-4a6b-8c9d-0e1f2a3b4c5d"
    assert client.get(f"/ping/{key}/start?rid={run_a}").status_code == 200
    clock.advance(minutes=1)
    client.get(f"/ping/{key}/start?rid={run_b}")
    clock.advance(minutes=4)
    client.get(f"/ping/{key}?rid={run_a}")
    clock.advance(minutes=1)
    client.get(f"/ping/{key}/0?rid={run_b}")
    durations = [p["duration_s"] for p in store.recent_pings(db, "backup") if p["kind"] == "success"]
    assert durations == [300.0, 300.0]
    metrics = [json.loads(row[0]) for row in db.execute("SELECT metrics FROM results ORDER BY started_at")]
    assert metrics == [{"duration_s": 300.0}, {"duration_s": 300.0, "exit_status": 0.0}]


def test_missed_period_is_noticed_by_the_worker(
    client: FlaskClient, db: Any, settings: Settings, clock: FrozenClock
) -> None:
    worker = Worker(settings, clock=clock)  # the real pass, as `upwatch-statuspage worker` runs it
    worker.run_pass()
    client.get(f"/ping/{key_of(db, 'backup')}")
    clock.advance(hours=1, minutes=10)  # exactly at the deadline: not yet
    worker.run_pass()
    assert state(db, "backup") == ("up", None)
    clock.advance(seconds=1)
    worker.run_pass()
    status, error = state(db, "backup")  # type: ignore[misc]
    assert status == "down"
    assert (
        error
        == "no ping: expected by 2026-11-27 13:00 UTC plus 10m grace (last success 2026-11-27 12:00 UTC)"
    )
    assert component(db, "jobs") == "major_outage"
    results = count_results(db, "backup")
    clock.advance(seconds=5)
    worker.run_pass()
    assert count_results(db, "backup") == results  # recorded once per deadline
    clock.advance(hours=1, minutes=10)
    worker.run_pass()
    assert count_results(db, "backup") == results + 1  # re-noted each interval, so never "no data"
    assert component(db, "jobs") == "major_outage"


def test_start_without_success_within_grace_is_down(
    client: FlaskClient, db: Any, worker: Tick, clock: FrozenClock
) -> None:
    key = key_of(db, "backup")
    client.get(f"/ping/{key}")
    clock.advance(minutes=5)
    client.get(f"/ping/{key}/start")
    clock.advance(minutes=10, seconds=1)
    worker.run_pass()
    assert state(db, "backup") == (
        "down",
        "started at 2026-11-27 12:05:00 UTC, no success within the 10m grace",
    )


def test_never_pinged_counts_from_first_sight(db: Any, worker: Tick, clock: FrozenClock) -> None:
    clock.advance(hours=1, minutes=10, seconds=1)
    worker.run_pass()
    assert state(db, "backup") == (
        "down",
        "no ping: expected by 2026-11-27 13:00 UTC plus 10m grace (no success ping yet)",
    )


def test_cron_schedule_in_its_time_zone(
    client: FlaskClient, db: Any, worker: Tick, clock: FrozenClock
) -> None:
    # Seen at 12:00 UTC; the next 03:00 in Berlin (UTC+1 in November) is 02:00 UTC, plus 1h grace.
    clock.now = datetime(2026, 11, 28, 3, 0, 0, tzinfo=UTC)
    worker.run_pass()
    assert state(db, "nightly") is None
    clock.advance(seconds=1)
    worker.run_pass()
    assert state(db, "nightly") == (
        "down",
        "no ping: expected by 2026-11-28 03:00 CET plus 1h grace (no success ping yet)",
    )
    client.get(f"/ping/{key_of(db, 'nightly')}")
    clock.advance(hours=23)  # 02:00 UTC next day: the next run is due, grace not over
    worker.run_pass()
    assert state(db, "nightly") == ("up", None)


def test_heartbeats_are_not_assigned_to_agents(
    client: FlaskClient, agent_token: Callable[..., str], clock: FrozenClock
) -> None:
    token = agent_token("edge-1", ["eu"])
    body = client.get("/api/v1/agent/assignments", headers={"Authorization": f"Bearer {token}"}).json
    assert "backup" not in {check["id"] for check in body["checks"]}
    report = {
        "agent": "edge-1",
        "agent_version": "0.1.0",
        "sent_at": clock().isoformat(),
        "results": [
            {
                "id": "6f1c2c1e-8a53-4d1e-9c8f-0b7a4d3c2b1a",
                "check_id": "backup",
                "started_at": clock().isoformat(),
                "latency_ms": 1.0,
                "status": "up",
            }
        ],
    }
    response = client.post("/api/v1/agent/reports", json=report, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "give exactly one of period"),
        ({"period": "1h", "schedule": "0 3 * * *"}, "give exactly one of period"),
        ({"schedule": "0 3 * *"}, "not a valid five-field cron expression"),
        ({"schedule": "0 25 * * *"}, "not a valid five-field cron expression"),
        ({"schedule": "0 3 * * *", "tz": "Mars/Olympus"}, "not a known time zone"),
        ({"period": "30s"}, "period must be at least 1m"),
        ({"period": "1h", "interval": "5m"}, "interval: not used by heartbeat checks"),
    ],
)
def test_invalid_heartbeat_config_names_the_problem(
    make_settings: Callable[..., Settings], fields: dict[str, Any], message: str
) -> None:
    checks = [{"id": "job", "kind": "heartbeat", **fields}]
    with pytest.raises(ConfigError) as raised:
        make_settings(checks=checks, components=[], groups=[])
    assert "checks[0]" in str(raised.value)
    assert message in str(raised.value)


def test_interval_is_derived_from_the_schedule() -> None:
    weekdays = parse_check({"id": "j", "kind": "heartbeat", "schedule": "0 3 * * 1-5", "grace": "1h"})
    assert weekdays.interval == timedelta(days=3, hours=1)  # the weekend gap plus grace
    hourly = parse_check({"id": "j", "kind": "heartbeat", "period": "1h", "grace": "5m"})
    assert hourly.interval == timedelta(hours=1, minutes=5)
    assert hourly.failure_threshold == 1


def test_agent_refuses_a_local_heartbeat(tmp_path: Path) -> None:
    from agent.settings import ConfigError as AgentConfigError
    from agent.settings import load_config

    path = tmp_path / "agent.toml"
    path.write_text('[[checks]]\nid = "hb"\nkind = "heartbeat"\nperiod = "1h"\n')
    with pytest.raises(
        AgentConfigError, match=r"checks\[0\].kind: heartbeat checks are evaluated by the collector"
    ):
        load_config({"UPWATCH_AGENT_CONFIG": str(path)})


def test_heartbeat_list_and_rotate_key_commands(tmp_path: Path) -> None:
    config = tmp_path / "upwatch.toml"
    config.write_text(
        '[page]\nurl = "https://status.acme.test"\n'
        '[[checks]]\nid = "nightly"\nkind = "heartbeat"\nschedule = "0 3 * * *"\ntz = "Europe/Berlin"\n'
    )
    env = {"UPWATCH_CONFIG": str(config), "UPWATCH_DATABASE": str(tmp_path / "u.db"), "PATH": "/usr/bin:/bin"}

    def run(*args: str) -> str:
        done = subprocess.run(
            [str(BIN / "upwatch-statuspage"), "heartbeat", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return done.stdout

    check_id, key, url, by_slug = run("list").strip().split("\t")
    assert check_id == "nightly" and url == f"https://status.acme.test/ping/{key}"
    ping_key = by_slug.split("/")[-2]
    assert by_slug == f"https://status.acme.test/ping/{ping_key}/nightly" and ping_key != key
    rotated = run("rotate-key", "nightly").strip().splitlines()[-1]
    assert rotated != url and rotated.startswith("https://status.acme.test/ping/")
    assert run("list").strip().split("\t")[2] == rotated
    new_ping_key = run("rotate-ping-key").strip().split()[-1]
    assert new_ping_key != ping_key
    assert run("list").strip().split("\t")[3] == f"https://status.acme.test/ping/{new_ping_key}/nightly"


def test_old_key_stops_working_after_rotation(client: FlaskClient, db: Any, worker: Tick) -> None:
    old = key_of(db, "backup")
    with db.atomic():
        store.rotate_key(db, "backup")
    assert client.get(f"/ping/{old}").status_code == 404
    assert client.get(f"/ping/{key_of(db, 'backup')}").status_code == 200


def test_ping_endpoints_with_curl(tmp_path: Path, settings: Settings) -> None:
    """The healthchecks.io way of calling it, against the real app on a loopback port."""
    import shutil
    import threading
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    if not shutil.which("curl"):
        pytest.skip("curl is not installed")
    app = create_app(settings)
    from statuspage.db import open_and_migrate

    check_heartbeats(open_and_migrate(settings.database), settings, T0)

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    server = make_server("127.0.0.1", 0, app, handler_class=Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        from statuspage.db import connect

        key = key_of(connect(settings.database), "backup")
        base = f"http://127.0.0.1:{server.server_port}/ping/{key}"
        for args in (["-I", base], [f"{base}/start"], ["--data-raw", "dump done", f"{base}/0"]):
            done = subprocess.run(
                ["curl", "-fsS", "-m", "10", *args], capture_output=True, text=True, timeout=30
            )
            assert done.returncode == 0, done.stderr
        failed = subprocess.run(
            ["curl", "-fsS", "-m", "10", f"{base}/300"], capture_output=True, text=True, timeout=30
        )
        assert failed.returncode == 22  # -f: HTTP 400
    finally:
        server.shutdown()
    db = connect(settings.database)
    assert [p["kind"] for p in store.recent_pings(db, "backup")] == ["success", "start", "success"]
    assert store.recent_pings(db, "backup")[0]["body"] == "dump done"


def test_slug_urls_reach_the_check_by_its_slug(client: FlaskClient, db: Any, worker: Tick) -> None:
    """/ping/<ping-key>/<slug>, with every suffix, and the trailing-slash forms healthchecks accepts."""
    ping_key = store.ping_key(db)
    assert ping_key and ping_key != key_of(db, "backup")
    base = f"/ping/{ping_key}/backup"
    for path in (base, f"{base}/", f"{base}/start", f"{base}/log", f"/ping/{key_of(db, 'backup')}/"):
        response = client.get(path)
        assert (response.status_code, response.get_data(as_text=True)) == (200, "OK"), path
    assert client.post(f"{base}/fail", data="disk full").status_code == 200
    assert state(db, "backup") == ("down", "the job reported failure: disk full")
    assert client.get(f"{base}/0").status_code == 200
    assert state(db, "backup") == ("up", None)
    assert client.get(f"{base}/4").status_code == 200
    assert state(db, "backup") == ("down", "the job reported exit status 4")
    kinds = [p["kind"] for p in store.recent_pings(db, "backup")]
    assert kinds == ["fail", "success", "fail", "success", "log", "start", "success", "success"]


def test_a_slug_may_be_named_like_an_action(
    make_settings: Callable[..., Settings], db: Any, app: Any, clock: FrozenClock
) -> None:
    settings = make_settings(
        checks=[{"id": "nightly.start", "slug": "start", "kind": "heartbeat", "period": "1d"}], components=[]
    )
    check_heartbeats(db, settings, clock())
    app.config["UPWATCH_SETTINGS"] = settings
    response = app.test_client().get(f"/ping/{store.ping_key(db)}/start")
    assert response.status_code == 200
    assert [p["kind"] for p in store.recent_pings(db, "nightly.start")] == ["success"]


def test_duplicate_slugs_are_a_config_error(make_settings: Callable[..., Settings]) -> None:
    with pytest.raises(
        ConfigError, match=r"checks\[1\]\.slug: slug 'backup' is already the slug of check 'backup'"
    ):
        make_settings(
            checks=[
                {"id": "backup", "kind": "heartbeat", "period": "1d"},
                {"id": "backup.eu", "slug": "backup", "kind": "heartbeat", "period": "1d"},
            ],
            components=[],
        )
    with pytest.raises(ConfigError, match=r"checks\[0\]\.slug: String should match pattern"):
        make_settings(
            checks=[{"id": "b", "slug": "Has Space", "kind": "heartbeat", "period": "1d"}], components=[]
        )
