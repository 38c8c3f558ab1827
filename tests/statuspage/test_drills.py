"""Collector side of drills with an injected clock: assignments carry the drill, the incident it
opens is marked as a drill (never public), the report measures each step, subscribers hear of
it only when asked."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from shared.schema import Result
from statuspage import drills
from statuspage import incidents as service
from statuspage.assignments import build_assignments
from statuspage.evaluate import apply_results, evaluate_components
from statuspage.settings import Settings
from statuspage.storage import incidents as store
from statuspage.storage.agents import create_agent
from statuspage.storage.drills import running_drills
from statuspage.storage.results import insert_results
from tests.conftest import FrozenClock
from tests.statuspage.test_evaluate_incidents import CONFIG


@pytest.fixture
def cfg(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(**CONFIG)


@pytest.fixture
def database(cfg: Settings) -> Any:
    from statuspage.db import open_and_migrate

    db = open_and_migrate(cfg.database)
    yield db
    db.conn.close()


def drill_result(db: Any, cfg: Settings, clock: FrozenClock, agent: str, drill_id: int) -> None:
    result = Result(
        id=uuid.uuid4(),
        check_id="api-health",
        started_at=clock(),
        latency_ms=0.1,
        status="down",
        error="drill: failure injected on purpose",
        detail={"drill": drill_id},
    )
    with db.atomic():
        insert_results(db, agent, [result], clock())
        apply_results(db, cfg, agent, [result])
    evaluate_components(db, cfg, clock())


def test_assignments_carry_drill_orders_for_the_component(
    database: Any, cfg: Settings, clock: FrozenClock
) -> None:
    agent, _token = create_agent(database, "eu-1", [], clock())
    drill_id = drills.start(database, cfg, "api", timedelta(minutes=2), "alice", clock())
    running = {cid: (d.id, d.ends_at) for cid, d in running_drills(database, clock()).items()}
    body, etag = build_assignments(list(cfg.checks), agent, running)
    assert [(o.check_id, o.drill_id) for o in body.drills] == [("api-health", drill_id)]
    assert body.drills[0].until == clock() + timedelta(minutes=2)
    _plain, plain_etag = build_assignments(list(cfg.checks), agent, {})
    assert etag != plain_etag  # agents see the change on their next refresh


def test_drill_incident_is_marked_private_and_measured(
    database: Any, cfg: Settings, clock: FrozenClock
) -> None:
    drill_id = drills.start(database, cfg, "api", timedelta(minutes=2), "alice", clock())
    clock.advance(seconds=3)
    drill_result(database, cfg, clock, "eu-1", drill_id)  # first injected failure
    clock.advance(seconds=10)
    drill_result(database, cfg, clock, "eu-1", drill_id)  # threshold 2 reached: incident
    [incident] = store.list_incidents(database)
    assert incident.drill and not incident.public and incident.title.startswith("[DRILL] ")
    assert store.list_incidents(database, public_only=True) == []
    with pytest.raises(service.IncidentInputError):
        service.publish(database, incident.id, "bob", clock())
    clock.advance(seconds=30)
    service.acknowledge(database, incident.id, "bob", clock())
    report = drills.finish(database, cfg, drill_id, clock())
    assert report.incident_id == incident.id
    assert report.propagation_s == 3.0
    assert report.detection_s == 10.0
    assert report.notification_s == 0.0  # the escalation's first level pages at once (outbox row)
    assert report.acknowledgement_s == 30.0
    assert report.outcome == "acknowledged" and report.acknowledged_by == "bob"
    stored = drills.measure(database, cfg, drill_id, clock())
    assert stored.incident_id == incident.id


def test_incident_after_the_drill_is_not_a_drill(database: Any, cfg: Settings, clock: FrozenClock) -> None:
    drill_id = drills.start(database, cfg, "api", timedelta(seconds=5), "alice", clock())
    drills.finish(database, cfg, drill_id, clock(), aborted=True)
    assert running_drills(database, clock()) == {}
    for _ in range(2):
        clock.advance(seconds=10)
        drill_result(database, cfg, clock, "eu-1", drill_id)
    [incident] = store.list_incidents(database)
    assert not incident.drill


@pytest.mark.parametrize(
    ("component", "duration", "message"),
    [
        ("nope", timedelta(minutes=1), "unknown component"),
        ("api", timedelta(hours=3), "duration"),
        ("api", timedelta(0), "duration"),
    ],
)
def test_refusals(
    database: Any, cfg: Settings, clock: FrozenClock, component: str, duration: timedelta, message: str
) -> None:
    with pytest.raises(drills.DrillError, match=message):
        drills.start(database, cfg, component, duration, "alice", clock())


def test_one_drill_at_a_time_per_component(database: Any, cfg: Settings, clock: FrozenClock) -> None:
    drills.start(database, cfg, "api", timedelta(minutes=1), "alice", clock())
    with pytest.raises(drills.DrillError, match="already running"):
        drills.start(database, cfg, "api", timedelta(minutes=1), "alice", clock())


@pytest.mark.parametrize("notify", [False, True])
def test_subscribers_hear_of_a_drill_only_when_asked(
    database: Any, cfg: Settings, clock: FrozenClock, notify: bool
) -> None:
    from statuspage.notify.fanout import _tells_subscribers

    drill_id = drills.start(
        database, cfg, "api", timedelta(minutes=2), "alice", clock(), notify_subscribers=notify
    )
    for _ in range(2):
        clock.advance(seconds=10)
        drill_result(database, cfg, clock, "eu-1", drill_id)
    [incident] = store.list_incidents(database)
    assert _tells_subscribers(database, {"id": incident.id, "drill": 1, "public": 0}, {}) is notify


def test_public_status_holds_still_during_a_drill(database: Any, cfg: Settings, clock: FrozenClock) -> None:
    from statuspage.storage.status import load_component_rows

    up = Result(id=uuid.uuid4(), check_id="api-health", started_at=clock(), latency_ms=1.0, status="up")
    with database.atomic():
        insert_results(database, "eu-1", [up], clock())
        apply_results(database, cfg, "eu-1", [up])
    evaluate_components(database, cfg, clock())
    assert load_component_rows(database)["api"].status == "operational"
    drill_id = drills.start(database, cfg, "api", timedelta(seconds=30), "alice", clock())
    for _ in range(2):
        clock.advance(seconds=10)
        drill_result(database, cfg, clock, "eu-1", drill_id)
    row = load_component_rows(database)["api"]
    assert (
        row.health == "major_outage" and row.status == "operational"
    )  # the engine acts, the public sees nothing
    history = database.execute(
        "SELECT status FROM component_status_history WHERE component_id = 'api'"
    ).fetchall()
    assert ("major_outage",) not in history


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--component", "nope"], "unknown component"),
        (["--component", "api", "--duration", "soon"], "invalid duration"),
        (["--component", "api", "--duration", "3h"], "duration must be"),
        (["--show", "999"], "not found"),
    ],
)
def test_drill_cli_refuses_bad_input(cfg: Settings, tmp_path: Any, args: list[str], message: str) -> None:
    import subprocess

    from tests.helpers import BIN

    completed = subprocess.run(
        [str(BIN / "upwatch-statuspage"), "drill", *args],
        env={
            "UPWATCH_DATABASE": str(cfg.database),
            "PATH": "/usr/bin:/bin",
            "UPWATCH_CONFIG": _write_config(tmp_path),
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode in (1, 2) and message in completed.stderr, completed.stderr
    assert "Traceback" not in completed.stderr
    if cfg.database.exists():
        from statuspage.db import connect

        db = connect(cfg.database)
        assert db.execute("SELECT count(*) FROM drills").fetchone()[0] == 0  # nothing stored
        db.conn.close()


def _write_config(tmp_path: Any) -> str:
    path = tmp_path / "drill.toml"
    path.write_text(
        '[[components]]\nid = "api"\nname = "API"\n\n[[checks]]\nid = "api-health"\ncomponent = "api"\n'
        'kind = "tcp"\nhost = "127.0.0.1"\nport = 9\n'
    )
    return str(path)
