"""Heartbeat checks created by their first ping (`/ping/<ping-key>/<slug>?create=1`, healthchecks.io's
auto-provisioning): the real app on a loopback port, the real worker pass on the test's clock."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest
from flask import Flask

from statuspage.reload import reload_app
from statuspage.settings import ConfigError, Settings, load_settings
from statuspage.storage import heartbeats as store
from statuspage.worker import Worker
from tests.adminkit import Operator, fast_argon2, make_user, operator  # noqa: F401 - fixtures
from tests.conftest import BASE_CONFIG, FrozenClock

AUTO_CONFIG: dict[str, Any] = {
    "components": [*BASE_CONFIG["components"], {"id": "jobs", "name": "Jobs"}],
    "heartbeats": {"auto_create_component": "jobs", "auto_create_limit": 2},
}


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(**AUTO_CONFIG)


class Quiet(WSGIRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def served(app: Flask) -> Iterator[str]:
    """The app on a loopback port (wsgiref), as curl in a cron job reaches it."""
    server = make_server("127.0.0.1", 0, app, handler_class=Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def get(url: str, method: str = "GET") -> tuple[int, str, dict[str, str]]:
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback
            return response.status, response.read().decode(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(), dict(error.headers)


def state(db: Any, check_id: str) -> tuple[str, str | None] | None:
    row = db.execute(
        "SELECT status, last_error FROM check_states WHERE check_id = ? AND agent = 'collector'", [check_id]
    ).fetchone()
    return (row[0], row[1]) if row else None


def auto_rows(db: Any) -> list[str]:
    return [row[0] for row in db.execute("SELECT slug FROM heartbeat_auto_checks ORDER BY id")]


def open_incidents(db: Any, component_id: str) -> list[str]:
    return [
        row[0]
        for row in db.execute(
            "SELECT i.title FROM incidents i JOIN incident_components c ON c.incident_id = i.id"
            " WHERE c.component_id = ? AND i.status != 'resolved'",
            [component_id],
        )
    ]


def test_create_then_ping_then_late_opens_an_incident(
    served: str,
    db: Any,
    settings: Settings,
    clock: FrozenClock,
    operator: Operator,  # noqa: F811 - the fixture imported above
) -> None:
    worker = Worker(settings, clock=clock)
    worker.run_pass()  # makes the installation's ping key
    base = f"{served}/ping/{store.ping_key(db)}"
    assert get(f"{base}/srv01")[:2] == (404, "not found")  # without create=1 nothing is made
    status, body, headers = get(f"{base}/srv01?create=1")
    assert (status, body) == (201, "Created")
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert headers["Ping-Body-Limit"] == "10000"
    assert get(f"{base}/srv01?create=1")[:2] == (200, "OK")  # it exists now
    assert get(f"{base}/srv01/start")[:2] == (200, "OK")
    assert get(f"{base}/srv01", method="HEAD")[0] == 200  # the run's end: the last success
    assert state(db, "auto.srv01") == ("up", None)
    assert auto_rows(db) == ["srv01"]
    dashboard = operator.client.get("/admin/").text
    assert "srv01" in dashboard and "(local)" not in dashboard  # listed like a declared check

    clock.advance(days=1, hours=1)  # healthchecks' defaults: period 1 day, grace 1 hour
    worker.run_pass()
    assert state(db, "auto.srv01") == ("up", None)
    clock.advance(seconds=1)
    worker.run_pass()
    status_now, error = state(db, "auto.srv01")  # type: ignore[misc]
    assert status_now == "down"
    assert error is not None and error.startswith("no ping: expected by 2026-11-28 12:00 UTC plus 1h grace")
    # The worker slept through the day (one pass): new incidents wait out downtime_grace, with
    # passes as the worker makes them (a pass more than 30 s after the last starts the wait again).
    for _ in range(6):
        clock.advance(seconds=25)
        worker.run_pass()
    assert open_incidents(db, "jobs"), "the late auto-created check opens an incident on its component"


def test_limit_slug_rules_and_bad_pings_create_nothing(
    served: str, db: Any, settings: Settings, clock: FrozenClock
) -> None:
    Worker(settings, clock=clock).run_pass()
    base = f"{served}/ping/{store.ping_key(db)}"
    refused = {
        f"{base}/Srv01?create=1": (400, "invalid url format"),  # healthchecks: slugs are lower case
        f"{base}/srv.01?create=1": (404, "not found"),  # not a slug character
        f"{base}/{'a' * 101}?create=1": (404, "not found"),  # longer than healthchecks' 100
        f"{base}/srv01?create=1&rid=nope": (400, "invalid uuid format"),
        f"{base}/srv01/256?create=1": (400, "invalid url format"),
        f"{base}/srv01?create=yes": (404, "not found"),  # only create=1 opts in
        f"{served}/ping/not-the-ping-key/srv01?create=1": (404, "not found"),
    }
    for url, expected in refused.items():
        assert get(url)[:2] == expected, url
    assert auto_rows(db) == []
    assert get(f"{base}/a-1/fail?create=1")[:2] == (201, "Created")  # any slug URL creates
    assert state(db, "auto.a-1") == ("down", "the job reported failure")
    assert get(f"{base}/b_2/0?create=1")[:2] == (201, "Created")
    assert get(f"{base}/c3?create=1")[:2] == (404, "not found")  # auto_create_limit = 2
    assert auto_rows(db) == ["a-1", "b_2"]


def test_off_without_a_component(make_settings: Callable[..., Settings], tmp_path: Path) -> None:
    settings = make_settings()
    assert settings.heartbeats.auto_create_component is None
    with pytest.raises(ConfigError, match=r"heartbeats\.auto_create_component: unknown component 'nope'"):
        make_settings(heartbeats={"auto_create_component": "nope"})
    with pytest.raises(
        ConfigError, match=r"heartbeats\.auto_create_limit: Input should be greater than or equal to 0"
    ):
        make_settings(heartbeats={"auto_create_limit": -1})


def test_a_declared_slug_wins_after_reload(tmp_path: Path, clock: FrozenClock) -> None:
    config = tmp_path / "upwatch.toml"
    head = (
        f'database = "{tmp_path / "upwatch.db"}"\n'
        '[[components]]\nid = "jobs"\nname = "Jobs"\n'
        '[heartbeats]\nauto_create_component = "jobs"\n'
    )
    config.write_text(head)
    settings = load_settings(environ={}, config=str(config))
    from statuspage import create_app
    from statuspage.db import connect

    app = create_app(settings)
    app.config["UPWATCH_CLOCK"] = clock
    worker = Worker(settings, clock=clock)
    worker.run_pass()
    server = make_server("127.0.0.1", 0, app, handler_class=Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        db = connect(settings.database)
        base = f"http://127.0.0.1:{server.server_port}/ping/{store.ping_key(db)}"
        assert get(f"{base}/nightly?create=1")[:2] == (201, "Created")
        config.write_text(
            head + '[[checks]]\nid = "backup.nightly"\nslug = "nightly"\ncomponent = "jobs"\n'
            'kind = "heartbeat"\nperiod = "1h"\n'
        )
        assert reload_app(app)
        worker.request_reload()
        assert worker.reload_if_requested()
        assert get(f"{base}/nightly")[:2] == (200, "OK")  # the declared check takes the slug at once
        assert [p["kind"] for p in store.recent_pings(db, "backup.nightly")] == ["success"]
        worker.run_pass()
        assert auto_rows(db) == []  # the worker forgot the auto-created one
        assert "auto.nightly" not in store.load_heartbeats(db)
        assert get(f"{base}/nightly?create=1")[:2] == (200, "OK")  # and nothing new is created
        assert auto_rows(db) == []
    finally:
        server.shutdown()


def test_heartbeat_list_and_forget_commands(
    served: str,
    db: Any,
    settings: Settings,
    clock: FrozenClock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`upwatch-statuspage heartbeat list` marks it, `heartbeat forget SLUG` removes it (the
    command's own main(), in process: a subprocess per call would cost seconds)."""
    from statuspage.cli import main

    Worker(settings, clock=clock).run_pass()
    assert get(f"{served}/ping/{store.ping_key(db)}/srv01?create=1")[0] == 201
    config = tmp_path / "upwatch.toml"
    config.write_text(
        f'database = "{settings.database}"\n[[components]]\nid = "jobs"\nname = "Jobs"\n'
        '[heartbeats]\nauto_create_component = "jobs"\n'
    )
    monkeypatch.setenv("UPWATCH_CONFIG", str(config))

    def run(*args: str) -> tuple[int, str, str]:
        code = main(["heartbeat", *args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    code, listed, _ = run("list")
    assert code == 0
    assert listed.startswith("auto.srv01\t") and listed.rstrip().endswith("\tauto-created")
    code, out, _ = run("forget", "srv01")
    assert code == 0 and "removed auto.srv01" in out
    assert auto_rows(db) == []
    assert run("forget", "srv01")[::2] == (1, "no auto-created heartbeat check with slug 'srv01'\n")
