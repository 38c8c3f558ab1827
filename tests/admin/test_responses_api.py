"""Admin REST API for automated response: the switch, an incident's orders, approve, manual run;
scopes, audit and bad input as everywhere under /api/v1/admin/."""

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
from tests.conftest import FrozenClock

pytestmark = pytest.mark.engines("sqlite", "postgresql")

Headers = Callable[[str], dict[str, str]]


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    rule = {"id": "restart-on-outage", "action": "restart-api", "component": "api", "require_approval": True}
    return make_settings(responses={"rules": [rule]})


@pytest.fixture
def incident(db: Any, settings: Settings, clock: FrozenClock, client: FlaskClient, agent_token: Any) -> int:
    headers = {"Authorization": f"Bearer {agent_token('edge-1', ['eu'])}"}
    assert client.get("/api/v1/agent/assignments?actions=restart-api", headers=headers).status_code == 200
    return create_incident(
        db,
        settings,
        title="API down",
        body="Looking.",
        actor="op",
        now=clock(),
        components={"api": "major_outage"},
    )


def test_orders_approve_and_manual_runs(
    client: FlaskClient, api_token: Headers, db: Any, settings: Settings, clock: FrozenClock, incident: int
) -> None:
    write, read = api_token("write"), api_token("read")
    run_responses(db, settings, clock())
    [waiting] = client.get(f"/api/v1/admin/incidents/{incident}/responses", headers=read).json["orders"]
    assert waiting["status"] == "awaiting_approval" and "waits for approval" in waiting["text"]
    assert (
        client.post(f"/api/v1/admin/responses/orders/{waiting['id']}/approve", headers=read).status_code
        == 403
    )
    approved = client.post(f"/api/v1/admin/responses/orders/{waiting['id']}/approve", headers=write)
    assert approved.status_code == 200 and approved.json["status"] == "pending"
    again = client.post(f"/api/v1/admin/responses/orders/{waiting['id']}/approve", headers=write)
    assert again.status_code == 422
    assert client.post("/api/v1/admin/responses/orders/99999/approve", headers=write).status_code == 404
    manual = client.post(
        f"/api/v1/admin/incidents/{incident}/responses",
        json={"agent": "edge-1", "action": "restart-api"},
        headers=write,
    )
    assert manual.status_code == 201 and manual.json["requested_by"] == "token:t0-write"
    for bad, status in (
        ({"agent": "edge-1", "action": "rm-rf"}, 422),
        ({"agent": "edge-1", "action": "restart-api", "argv": ["sh"]}, 422),
        ({"agent": "edge-1", "action": "restart-api", "expires_after_s": -1}, 422),
        ({"agent": "edge-1"}, 422),
    ):
        response = client.post(f"/api/v1/admin/incidents/{incident}/responses", json=bad, headers=write)
        assert response.status_code == status, (bad, response.json)
    missing = client.post("/api/v1/admin/incidents/99999/responses", json={"agent": "edge-1", "action": "restart-api"},
                          headers=write)  # fmt: skip
    assert missing.status_code == 404
    assert len(store.orders_of_incident(db, incident)) == 2  # nothing stored by the refusals
    assert [e.actor for e in audit.recent(db)][0] == "token:t0-write"


def test_the_switch_over_the_api(
    client: FlaskClient, api_token: Headers, db: Any, settings: Settings, clock: FrozenClock, incident: int
) -> None:
    write = api_token("write")
    run_responses(db, settings, clock())
    state = client.get("/api/v1/admin/responses", headers=write).json
    assert state == {
        "active": True,
        "enabled_in_config": True,
        "paused_by": None,
        "rules": ["restart-on-outage"],
    }
    assert client.post("/api/v1/admin/responses/pause", headers=write).json == {"cancelled": 1}
    assert client.get("/api/v1/admin/responses", headers=write).json["paused_by"] == "token:t0-write"
    assert client.post("/api/v1/admin/responses/resume", headers=write).json == {"changed": True}
    assert client.post("/api/v1/admin/responses/resume", headers=write).json == {"changed": False}
