"""Admin UI and API for automated response: the kill switch, approving, a manual run from the
incident page, each agent's offered actions; every change audited, words not enums."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient

from statuspage.incidents import create_incident
from statuspage.responses.rules import run_responses
from statuspage.settings import Settings
from statuspage.storage import audit
from statuspage.storage import responses as store
from tests.adminkit import Operator
from tests.conftest import FrozenClock


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    rule = {"id": "restart-on-outage", "action": "restart-api", "component": "api", "require_approval": True}
    return make_settings(responses={"rules": [rule]})


@pytest.fixture
def incident(db: Any, settings: Settings, clock: FrozenClock, client: FlaskClient, agent_token: Any) -> int:
    token = agent_token("edge-1", ["eu"])
    headers = {"Authorization": f"Bearer {token}"}
    assert (
        client.get("/api/v1/agent/assignments?actions=restart-api,clear-tmp", headers=headers).status_code
        == 200
    )
    return create_incident(
        db,
        settings,
        title="API down",
        body="Looking.",
        actor="op",
        now=clock(),
        components={"api": "major_outage"},
    )


def test_approve_from_the_incident_page(
    operator: Operator, db: Any, settings: Settings, clock: FrozenClock, incident: int
) -> None:
    run_responses(db, settings, clock())
    page = operator.client.get(f"/admin/incidents/{incident}").text
    assert "restart-api on edge-1 waits for a person&#39;s approval" in page
    assert "Approve restart-api on edge-1" in page
    [order] = store.orders_of_incident(db, incident)
    response = operator.post(f"/admin/responses/orders/{order.id}/approve")
    assert response.status_code == 303
    assert store.get_order(db, order.id).status == "pending"  # type: ignore[union-attr]
    again = operator.post(f"/admin/responses/orders/{order.id}/approve")
    assert again.status_code == 422 and "no longer waits" in again.text
    assert "response.approve" in [e.action for e in audit.recent(db)]
    assert operator.post("/admin/responses/orders/999/approve").status_code == 404


def test_manual_run_from_the_incident_page(operator: Operator, db: Any, incident: int) -> None:
    page = operator.client.get(f"/admin/incidents/{incident}").text
    assert '<option value="edge-1/clear-tmp">clear-tmp on edge-1</option>' in page
    response = operator.post(f"/admin/incidents/{incident}/responses", {"target": "edge-1/clear-tmp"})
    assert response.status_code == 303
    [order] = store.orders_of_incident(db, incident)
    assert (order.action_id, order.requested_by, order.status) == ("clear-tmp", "user:alice", "pending")
    page = operator.client.get(f"/admin/incidents/{incident}").text
    assert "asked edge-1 to run clear-tmp (asked by alice)" in page
    refused = operator.post(f"/admin/incidents/{incident}/responses", {"target": "edge-1/rm-rf"})
    assert refused.status_code == 422 and "does not offer" in refused.text
    assert operator.post(f"/admin/incidents/{incident}/responses", {"target": ""}).status_code == 422
    assert operator.post("/admin/incidents/999/responses", {"target": "edge-1/clear-tmp"}).status_code == 404
    entry = next(e for e in audit.recent(db) if e.action == "response.order")
    assert entry.actor == "user:alice" and entry.details["action"] == "clear-tmp"


def test_the_kill_switch_button(
    operator: Operator, db: Any, settings: Settings, clock: FrozenClock, incident: int
) -> None:
    run_responses(db, settings, clock())
    page = operator.client.get("/admin/responses").text
    assert "Stop all automated actions" in page and "restart-on-outage" in page
    assert operator.post("/admin/responses/pause").status_code == 303
    page = operator.client.get("/admin/responses").text
    assert "stopped" in page and "(by user:alice)" in page and "Switch automated actions on" in page
    assert store.orders_of_incident(db, incident)[0].status == "cancelled"
    incident_page = operator.client.get(f"/admin/incidents/{incident}").text
    assert "cancelled: alice switched automated responses off" in incident_page
    assert operator.post("/admin/responses/resume").status_code == 303
    assert [e.action for e in audit.recent(db)][:2] == ["response.resume", "response.pause"]


def test_agents_show_their_offered_actions(
    operator: Operator, client: FlaskClient, incident: int, api_token: Callable[[str], dict[str, str]]
) -> None:
    assert "clear-tmp, restart-api" in operator.client.get("/admin/agents").text
    listed = client.get("/api/v1/admin/agents", headers=api_token("read")).json
    assert listed["agents"][0]["actions"] == ["clear-tmp", "restart-api"]
