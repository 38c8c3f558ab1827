"""Evaluation against a real SQLite file with an injected clock: quorum, location problems,
one incident per episode with forensics, escalation through the outbox, maintenance,
dependencies, collector-downtime grace and two evaluators at once."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from shared.schema import Result
from statuspage import incidents as service
from statuspage.evaluate import apply_results, evaluate_components
from statuspage.settings import Settings
from statuspage.storage import incidents as store
from statuspage.storage import sql
from statuspage.storage.maintenance import insert_maintenance
from statuspage.storage.outbox import list_outbox
from statuspage.storage.problems import open_location_problems
from statuspage.storage.results import insert_results
from statuspage.storage.status import load_component_rows
from statuspage.timed_rules import note_worker_pass, run_escalations, run_maintenance
from tests.conftest import FrozenClock

pytestmark = pytest.mark.engines("sqlite", "postgresql")

AGENTS = ("eu-1", "us-1", "ap-1")
CONFIG: dict[str, Any] = {
    "components": [
        {"id": "api", "name": "Public API", "escalation_policy": "ops"},
        {"id": "web", "name": "Website", "depends_on": ["api"]},
    ],
    "checks": [
        {
            "id": "api-health",
            "component": "api",
            "kind": "http",
            "url": "http://127.0.0.1:9/",
            "interval": "10s",
        },
        {
            "id": "web-port",
            "component": "web",
            "kind": "tcp",
            "host": "127.0.0.1",
            "port": 9,
            "interval": "10s",
        },
    ],
    "escalation_policies": [
        {
            "id": "ops",
            "levels": [{"channels": ["ops-log"], "after": "0s"}, {"channels": ["pager"], "after": "15m"}],
        }
    ],
}
CONFIG["channels"] = [
    {"id": "ops-log", "kind": "log"},
    {"id": "pager", "kind": "webhook", "url": "http://127.0.0.1:9/hook"},
]


@pytest.fixture
def cfg(make_settings: Callable[..., Settings]) -> Any:
    return make_settings(**CONFIG)


@pytest.fixture
def database(cfg: Any) -> Any:
    from statuspage.db import open_store_and_migrate

    db = open_store_and_migrate(cfg.database)
    yield db
    sql.close(db)


def report(db: Any, cfg: Any, clock: FrozenClock, check: str, statuses: dict[str, str]) -> None:
    """One result per agent ('up'/'down') at the clock's time, then evaluate."""
    for agent, status in statuses.items():
        result = Result(
            id=uuid.uuid4(),
            check_id=check,
            started_at=clock(),
            latency_ms=12.5,
            status=status,  # type: ignore[arg-type]
            error=None if status == "up" else "connection refused",
            metrics={"total_ms": 12.5},
            detail={"status_code": 503, "body_excerpt": "x" * 2000} if status == "down" else {},
        )
        with sql.write(db):
            insert_results(db, agent, [result], clock())
            apply_results(db, cfg, agent, [result])
    evaluate_components(db, cfg, clock())


def tick(db: Any, cfg: Any, clock: FrozenClock, check: str, statuses: dict[str, str], times: int = 1) -> None:
    for _ in range(times):
        clock.advance(seconds=10)
        report(db, cfg, clock, check, statuses)


ALL_UP = dict.fromkeys(AGENTS, "up")
ONE_DOWN = {"eu-1": "down", "us-1": "up", "ap-1": "up"}
ALL_DOWN = dict.fromkeys(AGENTS, "down")


def test_one_location_is_a_location_problem_not_an_incident(
    database: Any, cfg: Any, clock: FrozenClock
) -> None:
    tick(database, cfg, clock, "api-health", ALL_UP)
    tick(database, cfg, clock, "api-health", ONE_DOWN, times=3)
    assert store.list_incidents(database) == []
    assert [(p.check_id, p.agent) for p in open_location_problems(database)] == [("api-health", "eu-1")]
    assert load_component_rows(database)["api"].status == "operational"
    tick(database, cfg, clock, "api-health", ALL_UP, times=2)
    assert open_location_problems(database) == []


def test_outage_opens_one_incident_pages_and_resolves(database: Any, cfg: Any, clock: FrozenClock) -> None:
    tick(database, cfg, clock, "api-health", ALL_UP)
    tick(database, cfg, clock, "api-health", ALL_DOWN)
    assert store.list_incidents(database) == []  # one failure is below failure_threshold
    tick(database, cfg, clock, "api-health", ALL_DOWN, times=3)
    [incident] = store.list_incidents(database)
    assert (incident.status, incident.impact, incident.auto, incident.public) == (
        "investigating",
        "critical",
        True,
        True,
    )
    assert incident.components == {"api": "major_outage"}
    assert incident.title == "Public API: major outage"
    forensics = incident.forensics
    assert sorted(r["agent"] for r in forensics["results"]) == sorted(AGENTS)
    assert all(r["error"] == "connection refused" and r["status_code"] == 503 for r in forensics["results"])
    assert all(len(r["body_excerpt"]) == 512 for r in forensics["results"])
    assert [r.destination for r in list_outbox(database)] == ["ops-log"]  # level 0 paged at once
    assert list_outbox(database)[0].event == "incident.opened"

    tick(database, cfg, clock, "api-health", ALL_UP, times=2)
    resolved = store.get_incident(database, incident.id)
    assert (
        resolved is not None
        and resolved.status == "resolved"
        and resolved.components == {"api": "operational"}
    )
    assert [u.status for u in store.updates_of(database, incident.id)] == ["investigating", "resolved"]
    kinds = [e.kind for e in store.events_of(database, incident.id)]
    assert kinds == ["opened", "escalated", "status_changed"]
    assert [(r.event, r.destination) for r in list_outbox(database)][-1] == ("incident.resolved", "ops-log")


def test_escalation_climbs_until_acknowledged(database: Any, cfg: Any, clock: FrozenClock) -> None:
    tick(database, cfg, clock, "api-health", ALL_DOWN, times=2)
    [incident] = store.list_incidents(database)
    clock.advance(minutes=14)
    assert run_escalations(database, cfg, clock()) == 0
    clock.advance(minutes=1)
    assert run_escalations(database, cfg, clock()) == 1
    assert run_escalations(database, cfg, clock()) == 0  # a second worker: nothing left to claim
    assert [r.destination for r in list_outbox(database)] == ["ops-log", "pager"]
    assert list_outbox(database)[1].event == "incident.escalated"


def test_acknowledgement_stops_escalation(database: Any, cfg: Any, clock: FrozenClock) -> None:
    tick(database, cfg, clock, "api-health", ALL_DOWN, times=2)
    [incident] = store.list_incidents(database)
    clock.advance(minutes=5)
    assert service.acknowledge(database, incident.id, "alice", clock())
    clock.advance(hours=1)
    assert run_escalations(database, cfg, clock()) == 0
    assert [r.destination for r in list_outbox(database)] == ["ops-log"]


def test_flap_within_cooldown_reopens_the_same_incident(database: Any, cfg: Any, clock: FrozenClock) -> None:
    tick(database, cfg, clock, "api-health", ALL_DOWN, times=2)
    tick(database, cfg, clock, "api-health", ALL_UP, times=2)
    tick(database, cfg, clock, "api-health", ALL_DOWN, times=2)
    [incident] = store.list_incidents(database)
    assert incident.status == "investigating"
    statuses = [u.status for u in store.updates_of(database, incident.id)]
    assert statuses == ["investigating", "resolved", "investigating"]
    assert "reopened" in [e.kind for e in store.events_of(database, incident.id)]


def test_downstream_joins_upstream_incident(database: Any, cfg: Any, clock: FrozenClock) -> None:
    for _ in range(2):
        clock.advance(seconds=10)
        report(database, cfg, clock, "api-health", ALL_DOWN)
        report(database, cfg, clock, "web-port", ALL_DOWN)
    [incident] = store.list_incidents(database)
    assert incident.components == {"api": "major_outage", "web": "major_outage"}
    assert "component_joined" in [e.kind for e in store.events_of(database, incident.id)]


def test_maintenance_opens_nothing_and_shows_under_maintenance(
    database: Any, cfg: Any, clock: FrozenClock
) -> None:
    with sql.write(database):
        insert_maintenance(
            database,
            title="Upgrade",
            body="",
            scheduled_for=clock(),
            scheduled_until=clock() + timedelta(minutes=5),
            components=["api"],
            now=clock(),
        )
    run_maintenance(database, cfg, clock())
    tick(database, cfg, clock, "api-health", ALL_DOWN, times=3)
    assert store.list_incidents(database) == []
    row = load_component_rows(database)["api"]
    assert (row.status, row.health) == ("under_maintenance", "major_outage")
    clock.advance(minutes=5)
    run_maintenance(database, cfg, clock())
    tick(database, cfg, clock, "api-health", ALL_DOWN)
    assert len(store.list_incidents(database)) == 1  # still failing after the window: now it is an incident


def test_collector_downtime_grace(database: Any, cfg: Any, clock: FrozenClock) -> None:
    note_worker_pass(database, cfg, clock())
    clock.advance(minutes=10)  # the collector was down
    assert note_worker_pass(database, cfg, clock())
    opened_at = None
    for second in range(10, 200, 10):
        clock.advance(seconds=10)
        assert not note_worker_pass(database, cfg, clock())
        report(database, cfg, clock, "api-health", ALL_DOWN)
        if opened_at is None and store.list_incidents(database):
            opened_at = second
    assert opened_at == 120  # downtime_grace = 2m, then at once
    assert len(store.list_incidents(database)) == 1


def test_two_evaluators_do_not_double(database: Any, cfg: Any, clock: FrozenClock) -> None:
    other = sql.open_store(cfg.database)
    try:
        tick(database, cfg, clock, "api-health", ALL_DOWN, times=2)
        evaluate_components(other, cfg, clock())
        run_escalations(other, cfg, clock())
        evaluate_components(database, cfg, clock())
    finally:
        sql.close(other)
    assert len(store.list_incidents(database)) == 1
    assert len(list_outbox(database)) == 1


def test_agents_are_not_offline_for_the_collectors_own_downtime(
    database: Any, cfg: Any, clock: FrozenClock
) -> None:
    from statuspage.liveness import check_agent_liveness
    from statuspage.storage.agents import create_agent, record_seen

    agent, _token = create_agent(database, "eu-1", ["eu"], clock())
    with sql.write(database):
        record_seen(database, agent.id, clock(), "1.0", 0.0)
    note_worker_pass(database, cfg, clock())
    clock.advance(minutes=10)  # the collector was down; the agent's reports could not arrive
    assert note_worker_pass(database, cfg, clock())
    assert check_agent_liveness(database, cfg, clock()) == ([], [])
    went_offline_after_s = None
    for second in range(10, 300, 10):  # the worker runs again, a pass every 10 s
        clock.advance(seconds=10)
        assert not note_worker_pass(database, cfg, clock())
        if check_agent_liveness(database, cfg, clock())[0] and went_offline_after_s is None:
            went_offline_after_s = second
    assert went_offline_after_s == 180  # offline_after (3m) of silence while the collector listened
