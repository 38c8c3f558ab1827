"""The agent API: bearer auth, assignments with ETag, and reports that refuse bad input
without storing anything."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient

from statuspage.storage.agents import revoke_agent
from statuspage.storage.results import count_results

REPORTS = "/api/v1/agent/reports"


def result(**overrides: Any) -> dict[str, Any]:
    data = {
        "id": str(uuid.uuid4()),
        "check_id": "api-health",
        "started_at": "2026-11-27T11:59:59+00:00",
        "latency_ms": 12.5,
        "status": "up",
    }
    data.update(overrides)
    return data


def report(**overrides: Any) -> dict[str, Any]:
    data = {
        "agent": "edge-1",
        "agent_version": "0.1.0",
        "sent_at": "2026-11-27T12:00:00+00:00",
        "results": [result()],
    }
    data.update(overrides)
    return data


def post(client: FlaskClient, token: str | None, body: Any, raw: bool = False, **headers: str) -> Any:
    all_headers = {"Content-Type": "application/json", **headers}
    if token is not None:
        all_headers["Authorization"] = f"Bearer {token}"
    data = body if raw else json.dumps(body)
    return client.post(REPORTS, data=data, headers=all_headers)


def test_report_is_stored_and_acknowledged(
    client: FlaskClient, agent_token: Callable[..., str], db: Any
) -> None:
    token = agent_token()
    body = report(results=[result(), result(status="down", error="connection refused")])
    response = post(client, token, body)
    assert response.status_code == 200, response.json
    assert response.json["accepted"] == 2 and response.json["duplicates"] == 0
    assert sorted(response.json["acknowledged"]) == sorted(r["id"] for r in body["results"])
    assert count_results(db) == 2


def test_replayed_report_counts_once(client: FlaskClient, agent_token: Callable[..., str], db: Any) -> None:
    token = agent_token()
    body = report()
    assert post(client, token, body).json["accepted"] == 1
    again = post(client, token, body).json
    assert again["accepted"] == 0 and again["duplicates"] == 1
    assert len(again["acknowledged"]) == 1
    assert count_results(db) == 1


def test_empty_report_is_a_heartbeat(client: FlaskClient, agent_token: Callable[..., str], db: Any) -> None:
    token = agent_token()
    response = post(client, token, report(results=[]))
    assert response.status_code == 200
    seen = db.execute("SELECT last_seen_at, agent_version FROM agents WHERE name = 'edge-1'").fetchone()
    assert seen[0] is not None and seen[1] == "0.1.0"


def test_local_check_results_are_accepted(
    client: FlaskClient, agent_token: Callable[..., str], db: Any
) -> None:
    token = agent_token()
    response = post(client, token, report(results=[result(check_id="my-local-disk")]))
    assert response.status_code == 200
    assert count_results(db) == 1


BIG = "x" * 3 * 1024 * 1024

BAD_REPORTS: list[tuple[str, Any, bool, int, str]] = [
    # (case, body, raw, status, fragment of the error message)
    ("not JSON", b"{not json", True, 400, "not valid JSON"),
    ("empty body", b"", True, 400, "not valid JSON"),
    ("NaN literal", b'{"agent": NaN}', True, 400, "NaN"),
    (
        "Infinity in metrics",
        json.dumps(report(results=[result(metrics={"x": 1})])).replace("1}", "Infinity}").encode(),
        True,
        400,
        "Infinity",
    ),
    ("duplicate keys", b'{"agent": "edge-1", "agent": "edge-2"}', True, 400, "duplicate key"),
    ("array body", [report()], False, 422, "JSON object"),
    ("missing agent", {k: v for k, v in report().items() if k != "agent"}, False, 422, "agent"),
    ("missing sent_at", {k: v for k, v in report().items() if k != "sent_at"}, False, 422, "sent_at"),
    (
        "missing result id",
        report(results=[{k: v for k, v in result().items() if k != "id"}]),
        False,
        422,
        "results.0.id",
    ),
    ("latency as string", report(results=[result(latency_ms="12")]), False, 422, "latency_ms"),
    ("status wrong type", report(results=[result(status=1)]), False, 422, "status"),
    ("unknown field", report(extra=True), False, 422, "extra"),
    ("unknown result field", report(results=[result(body="hi")]), False, 422, "body"),
    ("oversized error", report(results=[result(error="e" * 5000)]), False, 422, "error"),
    ("oversized agent version", report(agent_version="v" * 100), False, 422, "agent_version"),
    ("body over cap", report(results=[result(error=BIG)]), False, 413, "too large"),
    ("results not a list", report(results={"a": 1}), False, 422, "results"),
    ("naive sent_at", report(sent_at="2026-11-27T12:00:00"), False, 422, "sent_at"),
]


@pytest.mark.parametrize(
    ("case", "body", "raw", "status", "fragment"), BAD_REPORTS, ids=[c[0] for c in BAD_REPORTS]
)
def test_bad_reports_are_refused_and_store_nothing(
    client: FlaskClient,
    agent_token: Callable[..., str],
    db: Any,
    case: str,
    body: Any,
    raw: bool,
    status: int,
    fragment: str,
) -> None:
    token = agent_token()
    response = post(client, token, body, raw=raw)
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    payload = response.get_json()
    assert isinstance(payload, dict) and fragment in payload["error"] + json.dumps(payload["details"])
    assert count_results(db) == 0
    assert db.execute("SELECT last_seen_at FROM agents").fetchone()[0] is None


def test_wrong_content_type(client: FlaskClient, agent_token: Callable[..., str], db: Any) -> None:
    response = client.post(REPORTS, data="{}", headers={"Authorization": f"Bearer {agent_token()}"})
    assert response.status_code == 415
    assert count_results(db) == 0


@pytest.mark.parametrize(
    ("case", "header"),
    [
        ("no header", None),
        ("wrong token", "Bearer uwa_not-a-real-token"),
        ("basic scheme", "Basic dXNlcjpwYXNz"),
        ("empty bearer", "Bearer "),
    ],
)
def test_bad_credentials_get_401(
    client: FlaskClient, agent_token: Callable[..., str], db: Any, case: str, header: str | None
) -> None:
    agent_token()
    headers = {"Content-Type": "application/json"}
    if header is not None:
        headers["Authorization"] = header
    response = client.post(REPORTS, data=json.dumps(report()), headers=headers)
    assert response.status_code == 401
    assert response.json["error"]
    assert count_results(db) == 0


def test_revoked_token_is_refused_at_once(
    client: FlaskClient, agent_token: Callable[..., str], db: Any, clock: Any
) -> None:
    token = agent_token()
    assert post(client, token, report()).status_code == 200
    revoke_agent(db, "edge-1", clock())
    response = post(client, token, report())
    assert response.status_code == 401
    assert count_results(db) == 1


def test_token_cannot_report_as_another_agent(
    client: FlaskClient, agent_token: Callable[..., str], db: Any
) -> None:
    token = agent_token("edge-1")
    agent_token("edge-2", ["us"])
    response = post(client, token, report(agent="edge-2"))
    assert response.status_code == 403 and "edge-1" in response.json["error"]
    assert count_results(db) == 0


def test_token_cannot_report_unassigned_central_check(
    client: FlaskClient, agent_token: Callable[..., str], db: Any
) -> None:
    # web-port runs on agent:edge-1 only; edge-2 (label us) may not report it, nor api-health (label eu).
    token = agent_token("edge-2", ["us"])
    response = post(client, token, report(agent="edge-2", results=[result(check_id="web-port")]))
    assert response.status_code == 403 and "web-port" in response.json["error"]
    assert count_results(db) == 0


def test_assignments_follow_selectors_and_etag(client: FlaskClient, agent_token: Callable[..., str]) -> None:
    token = agent_token("edge-1", ["eu"])
    auth = {"Authorization": f"Bearer {token}"}
    response = client.get("/api/v1/agent/assignments", headers=auth)
    assert response.status_code == 200
    assert sorted(c["id"] for c in response.json["checks"]) == ["api-health", "web-port"]
    assert response.json["checks"][0]["interval"] == 10.0
    etag = response.headers["ETag"]
    again = client.get("/api/v1/agent/assignments", headers={**auth, "If-None-Match": etag})
    assert again.status_code == 304


def test_assignments_use_declared_labels(client: FlaskClient, agent_token: Callable[..., str]) -> None:
    token = agent_token("edge-9", ["us"])
    auth = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/agent/assignments", headers=auth).json["checks"] == []
    declared = client.get("/api/v1/agent/assignments?labels=eu", headers=auth)
    assert [c["id"] for c in declared.json["checks"]] == ["api-health"]
    bad = client.get("/api/v1/agent/assignments?labels=a%20b", headers=auth)
    assert bad.status_code == 400


def test_assignments_need_a_token(client: FlaskClient) -> None:
    assert client.get("/api/v1/agent/assignments").status_code == 401
