"""Agent liveness through the real worker pass: one "agent offline" incident per silent
agent (not per check), operators only; resolved when it reports again; checks count as
no data, not down; two workers never double it. And what operators see in the CLI."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient

from statuspage.cli import main as cli_main
from statuspage.db import connect
from statuspage.liveness import check_agent_liveness
from statuspage.settings import Settings
from statuspage.storage.agents import claim_offline, revoke_agent
from statuspage.worker import Worker
from tests.statuspage.test_agent_api import post, report, result


def offline_incidents(db: Any) -> list[tuple[Any, ...]]:
    return db.execute(
        "SELECT id, title, status, kind, public, auto, episode_key, forensics FROM incidents"
        " WHERE kind = 'agent_offline' ORDER BY id"
    ).fetchall()


def component_status(db: Any, component: str) -> str:
    return str(
        db.execute("SELECT status FROM component_status WHERE component_id = ?", [component]).fetchone()[0]
    )


def send(client: FlaskClient, token: str, clock: Any, agent: str = "edge-1", **fields: Any) -> None:
    at = clock().isoformat()
    body = report(agent=agent, sent_at=at, **fields)
    response = post(client, token, body)
    assert response.status_code == 200, response.json


def idle(worker: Worker, clock: Any, seconds: int) -> None:
    """Let time pass with the worker running (a pass every 10 s), as in production: a longer
    gap between passes would be the collector's own downtime, which suspends liveness."""
    for _ in range(seconds // 10):
        clock.advance(seconds=10)
        worker.run_pass()
    clock.advance(seconds=seconds % 10)
    worker.run_pass()


def test_a_silent_agent_opens_one_incident_and_reporting_resolves_it(
    client: FlaskClient, db: Any, agent_token: Callable[..., str], clock: Any, settings: Settings
) -> None:
    token = agent_token()
    send(client, token, clock, results=[result(check_id="api-health", started_at=clock().isoformat())])
    worker = Worker(settings, clock=clock)
    worker.run_pass()
    assert component_status(db, "api") == "operational"
    idle(worker, clock, seconds=179)
    assert offline_incidents(db) == []
    clock.advance(seconds=2)  # 181 s > offline_after (3m)
    worker.run_pass()
    worker.run_pass()
    incidents = offline_incidents(db)
    assert len(incidents) == 1  # one for the agent, not one per check
    _id, title, status, kind, public, auto, episode, forensics = incidents[0]
    assert (title, status, kind, public, auto, episode) == (
        "Agent edge-1 is offline",
        "investigating",
        "agent_offline",
        0,
        1,
        "agent:edge-1",
    )
    assert json.loads(forensics)["checks"] == ["api-health", "web-port"]
    assert component_status(db, "api") == "unknown"  # its checks are no data, not down
    assert "offline since" in db.execute("SELECT 'offline since ' || offline_since FROM agents").fetchone()[0]

    clock.advance(seconds=30)
    send(client, token, clock, results=[])  # a heartbeat is enough
    worker.run_pass()
    incidents = offline_incidents(db)
    assert len(incidents) == 1 and incidents[0][2] == "resolved"
    assert db.execute("SELECT offline_since, offline_incident_id FROM agents").fetchone() == (None, None)
    events = [r[0] for r in db.execute("SELECT kind FROM incident_events ORDER BY id")]
    assert events[0] == "opened" and "status_changed" in events

    idle(worker, clock, seconds=200)  # silent again: a new episode
    assert [i[2] for i in offline_incidents(db)] == ["resolved", "investigating"]


def test_one_incident_per_silent_agent_and_none_for_agents_never_seen(
    client: FlaskClient, db: Any, agent_token: Callable[..., str], clock: Any, settings: Settings
) -> None:
    send(client, agent_token("edge-1", ["eu"]), clock, results=[])
    send(client, agent_token("edge-2", ["us"]), clock, agent="edge-2", results=[])
    agent_token("edge-3", ["us"])  # created, never reported: never online
    clock.advance(minutes=10)
    Worker(settings, clock=clock).run_pass()
    assert sorted(i[1] for i in offline_incidents(db)) == [
        "Agent edge-1 is offline",
        "Agent edge-2 is offline",
    ]


def test_revoking_an_offline_agent_resolves_its_incident(
    client: FlaskClient, db: Any, agent_token: Callable[..., str], clock: Any, settings: Settings
) -> None:
    send(client, agent_token(), clock, results=[])
    clock.advance(minutes=5)
    worker = Worker(settings, clock=clock)
    worker.run_pass()
    revoke_agent(db, "edge-1", clock())
    worker.run_pass()
    assert [i[2] for i in offline_incidents(db)] == ["resolved"]


def test_two_workers_never_double_the_incident(
    client: FlaskClient, db: Any, agent_token: Callable[..., str], clock: Any, settings: Settings
) -> None:
    send(client, agent_token(), clock, results=[])
    clock.advance(minutes=5)
    barrier = threading.Barrier(4)
    won: list[list[str]] = []

    def one_worker() -> None:
        own = connect(settings.database)
        barrier.wait()
        won.append(check_agent_liveness(own, settings, clock())[0])
        own.conn.close()

    threads = [threading.Thread(target=one_worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(won) == [[], [], [], ["edge-1"]]
    assert len(offline_incidents(db)) == 1
    # The claim itself: a second conditional UPDATE changes no row.
    assert not claim_offline(db, 1, clock(), clock())


def test_agent_token_list_shows_state_skew_and_losses(
    client: FlaskClient,
    db: Any,
    agent_token: Callable[..., str],
    clock: Any,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    token = agent_token()
    agent_token("edge-2", ["us"])
    body = report(sent_at="2026-11-27T11:59:00+00:00", dropped=4, results=[])  # agent 60 s behind
    assert post(client, token, body).status_code == 200
    monkeypatch.setenv("UPWATCH_DATABASE", str(settings.database))
    assert cli_main(["agent-token", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    edge1 = dict(field.split("=", 1) for field in lines[0].split("\t")[1:])
    assert edge1["state"] == "online" and edge1["version"] == "0.1.0"
    assert edge1["clock_skew"] == "+60.0s BEYOND-TOLERANCE"
    assert edge1["dropped"] == "4" and edge1["duplicates"] == "0"
    edge2 = dict(field.split("=", 1) for field in lines[1].split("\t")[1:])
    assert edge2["state"] == "never-seen" and edge2["last_seen"] == "never"
