"""Automated response on the collector: rules -> orders in the assignments, results on the
timeline and in the audit log, approval, re-checks, maintenance and drills, expiry and the
kill switch. A real app on a real SQLite file, an injected clock, the agent API over HTTP."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from statuspage.incidents import create_incident
from statuspage.responses import service
from statuspage.responses.rules import run_responses
from statuspage.settings import ConfigError, Settings
from statuspage.storage import audit, sql
from statuspage.storage import incidents as incident_store
from statuspage.storage import responses as store
from statuspage.storage.maintenance import insert_maintenance, start_due
from tests.conftest import FrozenClock

pytestmark = pytest.mark.engines("sqlite", "postgresql")

ASSIGNMENTS = "/api/v1/agent/assignments"
RESULTS = "/api/v1/agent/action-results"


def rules(*extra: dict[str, Any], **fields: Any) -> dict[str, Any]:
    base = {"id": "restart-on-outage", "action": "restart-api", "component": "api", **fields}
    return {"rules": [base, *extra]}


def fetch(client: FlaskClient, token: str, actions: str = "restart-api") -> dict[str, Any]:
    response = client.get(f"{ASSIGNMENTS}?actions={actions}", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.json
    return dict(response.json)


def send_result(client: FlaskClient, token: str, order: dict[str, Any], **fields: Any) -> Any:
    body = {"order_id": order["order_id"], "action_id": order["action_id"], "outcome": "ran", **fields}
    return client.post(
        RESULTS,
        data=json.dumps(body),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )


def open_incident(db: Any, settings: Settings, clock: FrozenClock, **fields: Any) -> int:
    return create_incident(
        db,
        settings,
        title="API down",
        body="Investigating.",
        actor="engine",
        now=clock(),
        components={"api": "major_outage"},
    )


def timeline(db: Any, incident_id: int) -> list[str]:
    return [str(e.data["text"]) for e in incident_store.events_of(db, incident_id) if e.kind == "response"]


@pytest.fixture
def world(
    make_settings: Callable[..., Settings], clock: FrozenClock, request: pytest.FixtureRequest
) -> Callable[..., tuple[FlaskClient, Any, Settings, str]]:
    """An app with the given response rules, one agent `edge-1` (label eu) and its token."""
    from statuspage import create_app
    from statuspage.storage.agents import create_agent

    opened: list[Any] = []

    def factory(**responses: Any) -> tuple[FlaskClient, Any, Settings, str]:
        settings = make_settings(responses=responses)
        app = create_app(settings)
        app.config["UPWATCH_CLOCK"] = clock
        app.config["TESTING"] = True
        db = sql.open_store(settings.database)
        opened.append(db)
        _agent, token = create_agent(db, "edge-1", ["eu"], clock())
        return app.test_client(), db, settings, token

    request.addfinalizer(lambda: [sql.close(d) for d in opened])
    return factory


def test_an_open_incident_asks_the_agents_that_run_the_component_once(world: Any, clock: FrozenClock) -> None:
    client, db, settings, token = world(**rules())
    assert fetch(client, token).get("actions", []) == []  # nothing to do yet; the agent told its actions
    assert store.offered_actions(db) == {"edge-1": ["restart-api"]}
    incident_id = open_incident(db, settings, clock)
    assert run_responses(db, settings, clock()) == 1
    assert run_responses(db, settings, clock()) == 0  # a second pass (or worker) asks nobody again
    [order] = fetch(client, token)["actions"]
    assert order["action_id"] == "restart-api"
    assert timeline(db, incident_id) == ["asked edge-1 to run restart-api (rule restart-on-outage)"]
    response = send_result(client, token, order, exit_code=0, duration_s=2.31, stdout="restarted\n")
    assert response.status_code == 200 and response.json == {"stored": True}
    assert send_result(client, token, order, exit_code=0, duration_s=2.31).json == {"stored": False}
    assert timeline(db, incident_id)[-1] == "restart-api on edge-1: exit 0 in 2.3 s"
    assert fetch(client, token).get("actions", []) == []  # done: no longer sent
    [stored] = store.orders_of_incident(db, incident_id)
    assert stored.stdout == "restarted\n" and stored.status == "done"
    actions = [entry.action for entry in audit.recent(db)]
    assert actions.count("response.order") == 1 and actions.count("response.result") == 1


def test_refusals_and_bad_results_are_reported_plainly(world: Any, clock: FrozenClock) -> None:
    client, db, settings, token = world(**rules())
    incident_id = open_incident(db, settings, clock)
    fetch(client, token)
    run_responses(db, settings, clock())
    [order] = fetch(client, token)["actions"]
    reason = "action 'restart-api' is not declared in this agent's configuration"
    assert send_result(client, token, order, outcome="refused", reason=reason).status_code == 200
    assert timeline(db, incident_id)[-1] == f"edge-1 refused restart-api: {reason}"
    unknown = {**order, "order_id": str(uuid.uuid4())}
    assert send_result(client, token, unknown).status_code == 404
    assert send_result(client, token, order, outcome="exploded").status_code == 422
    assert send_result(client, token, order, stdout="x" * 5000).status_code == 422


def test_other_agents_cannot_report_for_an_order(world: Any, clock: FrozenClock) -> None:
    from statuspage.storage.agents import create_agent

    client, db, settings, token = world(**rules())
    _agent, other = create_agent(db, "edge-2", [], clock())
    open_incident(db, settings, clock)
    fetch(client, token)
    run_responses(db, settings, clock())
    [order] = fetch(client, token)["actions"]
    assert fetch(client, other).get("actions", []) == []
    assert send_result(client, other, order).status_code == 404


def test_an_agent_that_does_not_offer_the_action_is_not_asked(world: Any, clock: FrozenClock) -> None:
    client, db, settings, token = world(**rules())
    fetch(client, token, actions="clear-tmp")
    incident_id = open_incident(db, settings, clock)
    assert run_responses(db, settings, clock()) == 0
    run_responses(db, settings, clock())
    assert timeline(db, incident_id) == [
        "restart-api not asked of edge-1: edge-1 does not declare it (it offers: clear-tmp)"
    ]


def test_approval_is_needed_when_the_rule_says_so(world: Any, clock: FrozenClock) -> None:
    client, db, settings, token = world(**rules(require_approval=True))
    incident_id = open_incident(db, settings, clock)
    fetch(client, token)
    run_responses(db, settings, clock())
    assert fetch(client, token).get("actions", []) == []
    [waiting] = store.orders_of_incident(db, incident_id)
    assert waiting.status == "awaiting_approval"
    service.approve(db, settings, waiting.id, "user:alice", "127.0.0.1", clock())
    assert len(fetch(client, token)["actions"]) == 1
    with pytest.raises(service.ResponseError, match="no longer waits"):
        service.approve(db, settings, waiting.id, "user:alice", "127.0.0.1", clock())
    assert timeline(db, incident_id)[-1] == "alice approved restart-api on edge-1"


def test_an_expired_order_is_never_sent(world: Any, clock: FrozenClock) -> None:
    client, db, settings, token = world(**rules(expires_after="1m"))
    incident_id = open_incident(db, settings, clock)
    fetch(client, token)
    run_responses(db, settings, clock())
    clock.advance(seconds=61)
    assert fetch(client, token).get("actions", []) == []  # past its expiry even before the worker ran
    run_responses(db, settings, clock())
    assert store.orders_of_incident(db, incident_id)[0].status == "expired"
    assert "did not pick it up in time" in timeline(db, incident_id)[-1]


def test_the_kill_switch_cancels_pending_orders_and_stops_new_ones(world: Any, clock: FrozenClock) -> None:
    client, db, settings, token = world(**rules())
    incident_id = open_incident(db, settings, clock)
    fetch(client, token)
    run_responses(db, settings, clock())
    assert service.pause(db, "user:alice", "127.0.0.1", clock())
    assert fetch(client, token).get("actions", []) == []
    assert store.orders_of_incident(db, incident_id)[0].status == "cancelled"
    second = open_incident(db, settings, clock)
    assert run_responses(db, settings, clock()) == 0
    with pytest.raises(service.ResponseError, match="switched off"):
        service.run_manually(
            db,
            settings,
            incident_id=second,
            agent_name="edge-1",
            action_id="restart-api",
            actor="user:alice",
            client_address="",
            now=clock(),
        )
    assert service.resume(db, "user:alice", "127.0.0.1", clock())
    assert run_responses(db, settings, clock()) == 1  # the second incident; the cancelled one stays so
    assert [e.action for e in audit.recent(db)][:2] == ["response.order", "response.resume"]
    assert "alice switched automated responses off" in timeline(db, incident_id)[-1]


def test_responses_enabled_false_sends_nothing(world: Any, clock: FrozenClock) -> None:
    client, db, settings, token = world(enabled=False, **rules())
    open_incident(db, settings, clock)
    fetch(client, token)
    assert run_responses(db, settings, clock()) == 0


def test_maintenance_follows_the_rule(
    world: Any, make_settings: Callable[..., Settings], clock: FrozenClock
) -> None:
    client, db, settings, token = world(**rules())
    fetch(client, token)
    with sql.write(db):
        insert_maintenance(
            db,
            title="Upgrade",
            body="",
            scheduled_for=clock(),
            scheduled_until=clock() + timedelta(hours=1),
            components=["api"],
            now=clock(),
        )
        start_due(db, clock())
    incident_id = open_incident(db, settings, clock)
    assert run_responses(db, settings, clock()) == 0
    assert "api is in maintenance" in timeline(db, incident_id)[0]
    assert run_responses(db, make_settings(responses=rules(in_maintenance=True)), clock()) == 1


def test_a_drill_incident_runs_only_rules_marked_for_drills(
    world: Any, make_settings: Callable[..., Settings], clock: FrozenClock
) -> None:
    client, db, settings, token = world(**rules())
    fetch(client, token)
    with sql.write(db):
        drill_id = incident_store.insert_incident(
            db,
            title="[DRILL] API down",
            impact="major",
            components={"api": "major_outage"},
            body="",
            actor="engine",
            now=clock(),
            drill=True,
            public=False,
            auto=True,
        )
    assert run_responses(db, settings, clock()) == 0
    assert "this is a drill" in timeline(db, drill_id)[0]
    assert run_responses(db, make_settings(responses=rules(in_drills=True)), clock()) == 1


def test_recheck_asks_again_then_gives_up(world: Any, clock: FrozenClock) -> None:
    client, db, settings, token = world(**rules(recheck_after="2m", max_attempts=2))
    incident_id = open_incident(db, settings, clock)
    fetch(client, token)
    run_responses(db, settings, clock())
    [first] = fetch(client, token)["actions"]
    send_result(client, token, first, exit_code=0, duration_s=1.0)
    clock.advance(seconds=60)
    assert run_responses(db, settings, clock()) == 0  # not yet
    clock.advance(seconds=61)
    assert run_responses(db, settings, clock()) == 1
    [second] = fetch(client, token)["actions"]
    assert second["order_id"] != first["order_id"]
    send_result(client, token, second, exit_code=1, duration_s=1.0)
    clock.advance(seconds=121)
    assert run_responses(db, settings, clock()) == 0
    words = timeline(db, incident_id)
    assert "not recovered 2m after restart-api; asking again (attempt 2 of 2)" in words
    assert words[-1] == "not recovered 2m after restart-api (asked 2 times); no more automated attempts"


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"component": "nope"}, "responses.rules[0].component: unknown component 'nope'"),
        ({"component": None, "check": "nope"}, "responses.rules[0].check: unknown check 'nope'"),
        ({"component": None}, "responses.rules[0]: give exactly one of component or check"),
        ({"action": "Restart API"}, "responses.rules[0].action"),
        ({"expires_after": "-5s"}, "responses.rules[0].expires_after"),
        ({"down_for": -5}, "responses.rules[0].down_for"),
        ({"max_attempts": 3}, "responses.rules[0]: max_attempts above 1 needs recheck_after"),
        ({"on": "check_down"}, 'responses.rules[0]: on = "check_down" needs check'),
        ({"run_on": "agent:x"}, "responses.rules[0].run_on"),
        ({"shell": "yes"}, "responses.rules[0].shell"),
    ],
)
def test_bad_rules_are_config_errors_naming_the_key(
    make_settings: Callable[..., Settings], rule: dict[str, Any], message: str
) -> None:
    fields = {"id": "r", "action": "restart-api", "component": "api", **rule}
    fields = {k: v for k, v in fields.items() if v is not None}
    with pytest.raises(ConfigError) as caught:
        make_settings(responses={"rules": [fields]})
    assert message in str(caught.value)


def test_doctor_names_a_rule_whose_action_no_agent_declares(world: Any, clock: FrozenClock) -> None:
    from statuspage.doctor import check_responses

    client, db, settings, token = world(**rules())
    assert check_responses(db, settings)[0].status == "ok"  # not knowable yet: no agent reported
    fetch(client, token, actions="clear-tmp")
    [finding] = check_responses(db, settings)
    assert finding.status == "fail"
    assert finding.message.startswith("responses.rules[0].action: unknown action 'restart-api'")
    assert "edge-1 offer: clear-tmp" in finding.message
