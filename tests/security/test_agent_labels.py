"""Finding 2: any agent could claim any label. Labels that decide what an agent sees and
may report come from the operator (token creation, admin UI/API); an agent's declared
labels only narrow that set, and those outside it wait for an operator's approval."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from statuspage.settings import Settings
from statuspage.storage.agents import create_agent
from tests.adminkit import Operator

SECRET = "Bearer eu-secret-0123456789"
CHECKS: list[dict[str, Any]] = [
    {
        "id": "eu-api",
        "component": "api",
        "kind": "http",
        "url": "http://127.0.0.1:9/",
        "headers": {"Authorization": SECRET},
        "run_on": ["label:eu"],
    },
    {
        "id": "us-port",
        "component": "web",
        "kind": "tcp",
        "host": "127.0.0.1",
        "port": 9,
        "run_on": ["label:us"],
    },
]
ASSIGNMENTS = "/api/v1/agent/assignments"


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(checks=CHECKS)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assigned(client: FlaskClient, token: str, query: str = "") -> list[str]:
    response = client.get(ASSIGNMENTS + query, headers=bearer(token))
    assert response.status_code == 200, response.text
    return sorted(check["id"] for check in response.json["checks"])


def report_for(client: FlaskClient, token: str, agent: str, check_id: str) -> Any:
    body = {
        "agent": agent,
        "agent_version": "0.1.0",
        "sent_at": "2026-11-27T12:00:00+00:00",
        "results": [
            {
                "id": str(uuid.uuid4()),
                "check_id": check_id,
                "started_at": "2026-11-27T11:59:59+00:00",
                "latency_ms": 1.0,
                "status": "up",
            }
        ],
    }
    return client.post(
        "/api/v1/agent/reports",
        data=json.dumps(body),
        headers={**bearer(token), "Content-Type": "application/json"},
    )


def test_the_issues_request_gets_no_foreign_checks_or_secrets(
    client: FlaskClient, db: Any, clock: Any
) -> None:
    token = create_agent(db, "c", [], clock())[1]  # a token created with no labels
    response = client.get("/api/v1/agent/assignments?labels=eu", headers=bearer(token))
    assert response.status_code == 200
    assert response.json["checks"] == []
    assert SECRET not in response.text
    assert response.headers["Upwatch-Pending-Labels"] == "eu"
    forged = report_for(client, token, "c", "eu-api")
    assert forged.status_code == 403, forged.text
    assert "not assigned" in forged.json["error"]
    assert db.execute("SELECT count(*) FROM results").fetchone()[0] == 0


def test_declared_labels_only_narrow_the_tokens_labels(
    client: FlaskClient, agent_token: Callable[..., str]
) -> None:
    token = agent_token("both", ["eu", "us"])
    assert assigned(client, token) == ["eu-api", "us-port"]  # nothing declared: the token's labels
    assert assigned(client, token, "?labels=eu") == ["eu-api"]  # declared: narrowed to eu
    assert report_for(client, token, "both", "us-port").status_code == 403  # us is no longer its
    # A declared label outside the token's set is ignored, not a reason to lose the rest.
    assert assigned(client, token, "?labels=ap") == ["eu-api", "us-port"]


def test_an_existing_install_with_token_labels_keeps_working(
    client: FlaskClient, agent_token: Callable[..., str]
) -> None:
    token = agent_token("edge-eu", ["eu"])
    assert assigned(client, token) == ["eu-api"]
    assert assigned(client, token, "?labels=eu,prod") == ["eu-api"]
    assert report_for(client, token, "edge-eu", "eu-api").status_code == 200


def test_operators_see_pending_labels_and_approve_them_with_an_audit_entry(
    app: Flask,
    client: FlaskClient,
    agent_token: Callable[..., str],
    api_token: Callable[[str], dict[str, str]],
    operator: Operator,
    db: Any,
) -> None:
    token = agent_token("c", ["us"])
    assigned(client, token, "?labels=eu,us")
    listed = client.get("/api/v1/admin/agents", headers=api_token("read")).json["agents"]
    row = next(a for a in listed if a["name"] == "c")
    assert row["labels"] == ["us"] and row["pending_labels"] == ["eu"]
    page = operator.client.get("/admin/agents").text
    assert "Waiting for approval" in page and "eu" in page
    # A read token cannot approve; a write token can.
    denied = client.post("/api/v1/admin/agents/c/labels/approve", headers=api_token("read"), json={})
    assert denied.status_code == 403
    done = client.post(
        "/api/v1/admin/agents/c/labels/approve", headers=api_token("write"), json={"labels": ["eu"]}
    )
    assert done.status_code == 200, done.text
    assert assigned(client, token, "?labels=eu,us") == ["eu-api", "us-port"]
    entry = db.execute("SELECT actor, action, target, details FROM audit_log ORDER BY id DESC").fetchone()
    assert entry[1:3] == ("agent.approve_labels", "agent:c") and json.loads(entry[3]) == {"labels": ["eu"]}
    # Approving a label the agent never declared is refused (operators grant what they see).
    odd = client.post(
        "/api/v1/admin/agents/c/labels/approve", headers=api_token("write"), json={"labels": ["ap"]}
    )
    assert odd.status_code == 422 and "not waiting" in odd.json["error"]
    # The UI form does the same, behind CSRF.
    token2 = agent_token("d", [])
    assigned(client, token2, "?labels=eu")
    response = operator.post("/admin/agents/d/approve-labels", {"labels": "eu"})
    assert response.status_code == 303
    assert assigned(client, token2, "?labels=eu") == ["eu-api"]


def test_the_cli_approves_pending_labels(
    client: FlaskClient,
    settings: Settings,
    db: Any,
    clock: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from statuspage.cli import main

    token = create_agent(db, "e", [], clock())[1]
    assigned(client, token, "?labels=eu")
    monkeypatch.setenv("UPWATCH_DATABASE", str(settings.database))
    monkeypatch.delenv("UPWATCH_CONFIG", raising=False)
    assert main(["agent-token", "approve-labels", "e", "--label", "us"]) == 2
    assert main(["agent-token", "approve-labels", "e"]) == 0
    assert "approved labels of agent 'e': eu" in capsys.readouterr().out
    assert assigned(client, token, "?labels=eu") == ["eu-api"]
    entry = db.execute("SELECT actor, action FROM audit_log ORDER BY id DESC").fetchone()
    assert entry == ("cli", "agent.approve_labels")
