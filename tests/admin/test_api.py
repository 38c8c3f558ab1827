"""Admin REST API: scopes, every resource, bad input, and the OpenAPI 3.1 document."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openapi_spec_validator import validate

from statuspage.admin.api import ENDPOINTS
from statuspage.storage import sql
from statuspage.storage.agents import create_agent

pytestmark = pytest.mark.engines("sqlite", "postgresql")

Headers = Callable[[str], dict[str, str]]


def test_openapi_document_is_valid_3_1_and_covers_every_route(app: Flask, client: FlaskClient) -> None:
    document = client.get("/api/v1/openapi.json").get_json()
    validate(document)
    assert document["openapi"].startswith("3.1")
    documented = {(m.upper(), p) for p, ops in document["paths"].items() for m in ops}
    routed = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/admin/"):
            path = rule.rule
            for converter in ("<int:", "<"):
                path = path.replace(converter, "{")
            path = path.replace(">", "}")
            routed |= {(m, path) for m in (rule.methods or set()) - {"HEAD", "OPTIONS"}}
    assert routed == documented
    assert len(ENDPOINTS) == len(documented)


def test_requests_need_a_token(client: FlaskClient) -> None:
    for headers in (
        {},
        {"Authorization": "Bearer "},
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer uwt_nope"},
    ):
        response = client.get("/api/v1/admin/incidents", headers=headers)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_read_scope_cannot_write(client: FlaskClient, api_token: Headers) -> None:
    read = api_token("read")
    assert client.get("/api/v1/admin/incidents", headers=read).status_code == 200
    response = client.post("/api/v1/admin/incidents", json={"title": "x", "body": "y"}, headers=read)
    assert response.status_code == 403 and "scope" in response.get_json()["error"]


def test_revoked_token_is_refused(client: FlaskClient, api_token: Headers, db: Any, clock: Any) -> None:
    from statuspage.storage.api_tokens import revoke_token

    headers = api_token("read")
    assert client.get("/api/v1/admin/agents", headers=headers).status_code == 200
    revoke_token(db, "t0-read", clock())
    assert client.get("/api/v1/admin/agents", headers=headers).status_code == 401


def test_incident_lifecycle(client: FlaskClient, api_token: Headers) -> None:
    h = api_token("write")
    created = client.post(
        "/api/v1/admin/incidents",
        json={
            "title": "API errors",
            "body": "Looking",
            "impact": "major",
            "components": {"api": "partial_outage"},
        },
        headers=h,
    )
    assert created.status_code == 201, created.text
    iid = created.get_json()["id"]
    base = f"/api/v1/admin/incidents/{iid}"
    assert client.post(base + "/acknowledge", headers=h).get_json() == {"changed": True}
    assert client.post(base + "/acknowledge", headers=h).get_json() == {"changed": False}
    update = client.post(base + "/updates", json={"status": "identified", "body": "Bad deploy"}, headers=h)
    assert update.status_code == 201
    assert client.put(base + "/impact", json={"impact": "critical"}, headers=h).status_code == 200
    assert (
        client.put(
            base + "/components", json={"components": {"web": "degraded_performance"}}, headers=h
        ).status_code
        == 200
    )
    assert client.post(base + "/resolve", json={}, headers=h).status_code == 200
    postmortem = client.put(
        base + "/postmortem", json={"markdown": "# What happened", "publish": True}, headers=h
    )
    assert postmortem.status_code == 200, postmortem.text
    detail = client.get(base, headers=h).get_json()
    assert detail["status"] == "postmortem" and detail["impact"] == "critical"
    assert detail["components"] == {"web": "degraded_performance"}
    assert [u["status"] for u in detail["updates"]][:2] == ["investigating", "identified"]
    actions = [e["action"] for e in client.get("/api/v1/admin/audit", headers=h).get_json()["entries"]]
    assert actions[:7] == [
        "incident.postmortem", "incident.resolve", "incident.components", "incident.impact",
        "incident.update", "incident.acknowledge", "incident.acknowledge",
    ]  # fmt: skip


def test_publish_a_waiting_incident(client: FlaskClient, api_token: Headers) -> None:
    h = api_token("write")
    iid = client.post(
        "/api/v1/admin/incidents", json={"title": "Quiet", "body": "b", "public": False}, headers=h
    ).get_json()["id"]
    assert client.post(f"/api/v1/admin/incidents/{iid}/publish", headers=h).get_json() == {"changed": True}
    assert client.get(f"/api/v1/admin/incidents/{iid}", headers=h).get_json()["public"] is True


def test_maintenance(client: FlaskClient, api_token: Headers) -> None:
    h = api_token("write")
    body = {"title": "DB", "scheduled_for": "2026-11-28T10:00:00Z", "scheduled_until": "2026-11-28T11:00:00Z",
            "components": ["api"]}  # fmt: skip
    created = client.post("/api/v1/admin/maintenances", json=body, headers=h)
    assert created.status_code == 201, created.text
    mid = created.get_json()["id"]
    changed = client.patch(f"/api/v1/admin/maintenances/{mid}", json={"title": "DB upgrade"}, headers=h)
    assert changed.status_code == 200, changed.text
    assert client.get(f"/api/v1/admin/maintenances/{mid}", headers=h).get_json()["title"] == "DB upgrade"
    assert client.post(f"/api/v1/admin/maintenances/{mid}/complete", headers=h).get_json() == {
        "changed": True
    }
    assert (
        client.patch(f"/api/v1/admin/maintenances/{mid}", json={"title": "x"}, headers=h).status_code == 422
    )


def test_component_override_shows_on_the_public_page(client: FlaskClient, api_token: Headers) -> None:
    h = api_token("write")
    response = client.put(
        "/api/v1/admin/components/api/override", json={"status": "major_outage", "reason": "known"}, headers=h
    )
    assert response.status_code == 200
    page = client.get("/").text
    assert 'data-component="api" data-status="major_outage"' in page
    listed = {c["id"]: c for c in client.get("/api/v1/admin/components", headers=h).get_json()["components"]}
    assert listed["api"]["status"] == "major_outage" and listed["api"]["computed_status"] == "unknown"
    assert client.delete("/api/v1/admin/components/api/override", headers=h).get_json() == {"changed": True}
    assert 'data-component="api" data-status="major_outage"' not in client.get("/").text
    assert (
        client.put(
            "/api/v1/admin/components/nope/override", json={"status": "major_outage"}, headers=h
        ).status_code
        == 404
    )


def test_agents_list_and_revoke(client: FlaskClient, api_token: Headers, db: Any, clock: Any) -> None:
    create_agent(db, "edge-9", ["eu"], clock())
    h = api_token("write")
    agents = client.get("/api/v1/admin/agents", headers=h).get_json()["agents"]
    assert [a["name"] for a in agents] == ["edge-9"]
    assert client.post("/api/v1/admin/agents/edge-9/revoke", headers=h).status_code == 200
    assert client.get("/api/v1/admin/agents", headers=h).get_json()["agents"] == []
    assert client.post("/api/v1/admin/agents/edge-9/revoke", headers=h).status_code == 404


# (method, path, body, expected status) — bad input gets a 4xx naming the problem, never a 5xx.
BAD_REQUESTS = [
    ("POST", "/api/v1/admin/incidents", {"title": "", "body": "x"}, 422),
    ("POST", "/api/v1/admin/incidents", {"title": "x"}, 422),
    ("POST", "/api/v1/admin/incidents", {"title": "x", "body": "y", "impact": "huge"}, 422),
    ("POST", "/api/v1/admin/incidents", {"title": "x", "body": "y", "components": {"nope": "major_outage"}}, 422),
    ("POST", "/api/v1/admin/incidents", {"title": "x", "body": "y", "components": {"api": "on_fire"}}, 422),
    ("POST", "/api/v1/admin/incidents", {"title": "x", "body": "y", "extra": 1}, 422),
    ("POST", "/api/v1/admin/incidents", {"title": 5, "body": "y"}, 422),
    ("POST", "/api/v1/admin/incidents", {"title": "x", "body": "y", "public": "yes"}, 422),
    ("POST", "/api/v1/admin/incidents", [], 422),
    ("POST", "/api/v1/admin/incidents", "text", 422),
    ("POST", "/api/v1/admin/incidents/999/updates", {"status": "identified", "body": "x"}, 404),
    ("POST", "/api/v1/admin/incidents/999/acknowledge", None, 404),
    ("GET", "/api/v1/admin/incidents/999", None, 404),
    ("PUT", "/api/v1/admin/incidents/999/impact", {"impact": "minor"}, 404),
    ("POST", "/api/v1/admin/maintenances", {"title": "x", "scheduled_for": "2026-11-28T10:00:00Z",
                                            "scheduled_until": "2026-11-28T09:00:00Z"}, 422),
    ("POST", "/api/v1/admin/maintenances", {"title": "x", "scheduled_for": "2026-11-28T10:00:00",
                                            "scheduled_until": "2026-11-28T11:00:00"}, 422),
    ("POST", "/api/v1/admin/maintenances", {"title": "x", "scheduled_for": "tomorrow",
                                            "scheduled_until": "2026-11-28T11:00:00Z"}, 422),
    ("PATCH", "/api/v1/admin/maintenances/999", {"title": "x"}, 404),
    ("PUT", "/api/v1/admin/components/api/override", {"status": "fine"}, 422),
    ("POST", "/api/v1/admin/agents/nobody/revoke", None, 404),
    ("GET", "/api/v1/admin/nothing-here", None, 404),
    ("DELETE", "/api/v1/admin/incidents", None, 405),
]  # fmt: skip


@pytest.mark.parametrize(("method", "path", "body", "status"), BAD_REQUESTS)
def test_bad_requests(
    client: FlaskClient, api_token: Headers, method: str, path: str, body: Any, status: int
) -> None:
    kwargs: dict[str, Any] = {"headers": api_token("write")}
    if body is not None:
        kwargs["json"] = body
    response = client.open(path, method=method, **kwargs)
    assert response.status_code == status, response.text
    assert response.is_json and response.get_json()["error"]


def test_body_must_be_json(client: FlaskClient, api_token: Headers) -> None:
    response = client.post("/api/v1/admin/incidents", data="title=x", headers=api_token("write"))
    assert response.status_code == 415
    response = client.post(
        "/api/v1/admin/incidents",
        data="{not json",
        content_type="application/json",
        headers=api_token("write"),
    )
    assert response.status_code == 400


def test_subscribers_and_channels(make_settings: Any, clock: Any, db: Any) -> None:
    from statuspage import create_app
    from statuspage.notify.subscriptions import request_email_subscription
    from statuspage.storage.api_tokens import create_token

    settings = make_settings(channels=[{"id": "ops-log", "kind": "log"}])
    app = create_app(settings)
    app.config["UPWATCH_CLOCK"] = clock
    client = app.test_client()
    _token, secret = create_token(db, "ops", "write", "test", clock())
    h = {"Authorization": f"Bearer {secret}"}
    request_email_subscription(db, settings, "reader@example.com", ["api"], clock())
    listed = client.get("/api/v1/admin/subscribers", headers=h).get_json()
    assert [s["email"] for s in listed["emails"]] == ["reader@example.com"]
    sid = listed["emails"][0]["id"]
    assert client.delete(f"/api/v1/admin/subscribers/emails/{sid}", headers=h).status_code == 200
    assert (
        client.get("/api/v1/admin/subscribers", headers=h).get_json()["emails"][0]["status"] == "unsubscribed"
    )
    assert client.delete("/api/v1/admin/subscribers/emails/999", headers=h).status_code == 404
    hook = client.post(
        "/api/v1/admin/subscribers/webhooks", json={"url": "https://hooks.example.com/x"}, headers=h
    )
    assert hook.status_code == 201 and hook.get_json()["secret"].startswith("whsec_")
    bad = client.post("/api/v1/admin/subscribers/webhooks", json={"url": "ftp://x"}, headers=h)
    assert bad.status_code == 422
    assert (
        client.delete(f"/api/v1/admin/subscribers/webhooks/{hook.get_json()['id']}", headers=h).status_code
        == 200
    )
    channels = client.get("/api/v1/admin/channels", headers=h).get_json()["channels"]
    assert channels == [
        {"id": "ops-log", "kind": "log", "name": "ops-log", "health": "ok", "consecutive_failures": 0,
         "last_error": None, "disabled_reason": None}
    ]  # fmt: skip
    assert client.post("/api/v1/admin/channels/ops-log/test", headers=h).get_json() == {"changed": True}
    assert sql.scalar(db, "SELECT count(*) FROM outbox WHERE event = 'channel.test'") == 1
    assert client.post("/api/v1/admin/channels/ops-log/enable", headers=h).get_json() == {"changed": False}
    assert client.post("/api/v1/admin/channels/nope/test", headers=h).status_code == 404
