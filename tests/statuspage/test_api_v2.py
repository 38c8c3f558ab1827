"""The Statuspage public API v2: every response validated against JSON schemas written from
Statuspage's field lists (page, component, incident, incident update, scheduled maintenance)."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator

ISO = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?([+-]\d\d:\d\d|Z)$"
TIME = {"type": "string", "pattern": ISO}
TIME_OR_NULL = {"anyOf": [TIME, {"type": "null"}]}
COMPONENT_STATUS = {
    "enum": ["operational", "degraded_performance", "partial_outage", "major_outage", "under_maintenance"]
}

PAGE = {
    "type": "object",
    "required": ["id", "name", "url", "time_zone", "updated_at"],
    "properties": {"id": {"type": "string"}, "name": {"type": "string"}, "url": {"type": "string"},
                   "time_zone": {"type": "string"}, "updated_at": TIME},
    "additionalProperties": False,
}  # fmt: skip
COMPONENT = {
    "type": "object",
    "required": ["id", "name", "status", "created_at", "updated_at", "position", "description", "showcase",
                 "start_date", "group_id", "page_id", "group", "only_show_if_degraded"],
    "properties": {
        "id": {"type": "string"}, "name": {"type": "string"}, "status": COMPONENT_STATUS,
        "created_at": TIME, "updated_at": TIME, "position": {"type": "integer"},
        "description": {"type": ["string", "null"]}, "showcase": {"type": "boolean"},
        "start_date": {"type": ["string", "null"], "pattern": r"^\d{4}-\d\d-\d\d$"},
        "group_id": {"type": ["string", "null"]}, "page_id": {"type": "string"}, "group": {"type": "boolean"},
        "only_show_if_degraded": {"type": "boolean"},
        "components": {"type": "array", "items": {"type": "string"}},
    },
    "additionalProperties": False,
    # Groups list their children; leaves never carry a components list.
    "if": {"properties": {"group": {"const": True}}},
    "then": {"required": ["components"], "properties": {"group_id": {"type": "null"}}},
    "else": {"not": {"required": ["components"]}},
}  # fmt: skip
UPDATE = {
    "type": "object",
    "required": ["id", "status", "body", "incident_id", "created_at", "updated_at", "display_at",
                 "affected_components", "deliver_notifications", "custom_tweet", "tweet_id"],
    "properties": {
        "id": {"type": "string"}, "status": {"type": "string"}, "body": {"type": "string"},
        "incident_id": {"type": "string"}, "created_at": TIME, "updated_at": TIME, "display_at": TIME,
        "affected_components": {"type": "array", "items": {
            "type": "object", "required": ["code", "name", "old_status", "new_status"],
            "properties": {"code": {"type": "string"}, "name": {"type": "string"},
                           "old_status": COMPONENT_STATUS, "new_status": COMPONENT_STATUS},
            "additionalProperties": False}},
        "deliver_notifications": {"type": "boolean"}, "custom_tweet": {"type": ["string", "null"]},
        "tweet_id": {"type": ["string", "null"]},
    },
    "additionalProperties": False,
}  # fmt: skip
INCIDENT_FIELDS = {
    "id": {"type": "string"}, "name": {"type": "string"},
    "status": {"enum": ["investigating", "identified", "monitoring", "resolved", "postmortem"]},
    "created_at": TIME, "updated_at": TIME, "monitoring_at": TIME_OR_NULL, "resolved_at": TIME_OR_NULL,
    "impact": {"enum": ["none", "minor", "major", "critical"]}, "shortlink": {"type": "string"},
    "started_at": TIME, "page_id": {"type": "string"},
    "incident_updates": {"type": "array", "items": UPDATE}, "components": {"type": "array", "items": COMPONENT},
}  # fmt: skip
INCIDENT = {
    "type": "object",
    "required": list(INCIDENT_FIELDS),
    "properties": INCIDENT_FIELDS,
    "additionalProperties": False,
}
MAINTENANCE = {
    "type": "object",
    "required": [*INCIDENT_FIELDS, "scheduled_for", "scheduled_until"],
    "properties": {
        **INCIDENT_FIELDS,
        "status": {"enum": ["scheduled", "in_progress", "verifying", "completed"]},
        "impact": {"enum": ["none", "minor", "major", "critical", "maintenance"]},
        "scheduled_for": TIME,
        "scheduled_until": TIME,
    },
    "additionalProperties": False,
}
STATUS = {
    "type": "object",
    "required": ["indicator", "description"],
    "properties": {"indicator": {"enum": ["none", "minor", "major", "critical", "maintenance"]},
                   "description": {"type": "string"}},
    "additionalProperties": False,
}  # fmt: skip


def document(**fields: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["page", *fields],
        "properties": {"page": PAGE, **fields},
        "additionalProperties": False,
    }


SCHEMAS = {
    "summary.json": document(
        components={"type": "array", "items": COMPONENT},
        incidents={"type": "array", "items": INCIDENT},
        scheduled_maintenances={"type": "array", "items": MAINTENANCE},
        status=STATUS,
    ),
    "status.json": document(status=STATUS),
    "components.json": document(components={"type": "array", "items": COMPONENT}),
    "incidents.json": document(incidents={"type": "array", "items": INCIDENT}),
    "incidents/unresolved.json": document(incidents={"type": "array", "items": INCIDENT}),
    "scheduled-maintenances.json": document(scheduled_maintenances={"type": "array", "items": MAINTENANCE}),
    "scheduled-maintenances/upcoming.json": document(
        scheduled_maintenances={"type": "array", "items": MAINTENANCE}
    ),
    "scheduled-maintenances/active.json": document(
        scheduled_maintenances={"type": "array", "items": MAINTENANCE}
    ),
}


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_response_matches_statuspage_schema(pc: FlaskClient, name: str) -> None:
    response = pc.get(f"/api/v2/{name}")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    validator = Draft202012Validator(SCHEMAS[name])
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(response.json)]
    assert errors == []


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_empty_page_matches_schema_too(client: FlaskClient, name: str) -> None:
    response = client.get(f"/api/v2/{name}")
    assert list(Draft202012Validator(SCHEMAS[name]).iter_errors(response.json)) == []


def test_summary_content(pc: FlaskClient, seeded: dict[str, int]) -> None:
    body = pc.get("/api/v2/summary.json").json
    assert body["page"]["name"] == "Acme Status" and body["page"]["url"] == "https://status.acme.test"
    by_id = {c["id"]: c for c in body["components"]}
    assert by_id["core"]["group"] is True and by_id["core"]["components"] == ["api", "web"]
    assert by_id["core"]["status"] == "partial_outage"
    assert by_id["api"]["group_id"] == "core" and by_id["api"]["status"] == "partial_outage"
    assert by_id["cdn"]["group_id"] is None and by_id["cdn"]["status"] == "operational"  # no data yet
    assert by_id["db"]["status"] == "under_maintenance"
    assert body["status"] == {"indicator": "major", "description": "Partial System Outage"}
    [incident] = body["incidents"]
    assert incident["id"] == str(seeded["open"]) and incident["impact"] == "minor"
    assert incident["shortlink"] == f"https://status.acme.test/incidents/{seeded['open']}"
    statuses = [u["status"] for u in incident["incident_updates"]]
    assert statuses == ["identified", "investigating"]  # newest first
    assert incident["incident_updates"][0]["affected_components"] == [
        {"code": "api", "name": "Public API", "old_status": "operational", "new_status": "partial_outage"}
    ]
    assert [c["id"] for c in incident["components"]] == ["api"]
    assert [(m["name"], m["status"]) for m in body["scheduled_maintenances"]] == [
        ("Database upgrade", "in_progress"),
        ("CDN provider switch", "scheduled"),
    ]


def test_incident_lists(pc: FlaskClient, seeded: dict[str, int]) -> None:
    incidents = pc.get("/api/v2/incidents.json").json["incidents"]
    assert [i["id"] for i in incidents] == [str(seeded["open"]), str(seeded["resolved"]), str(seeded["old"])]
    resolved = incidents[1]
    assert resolved["status"] == "resolved" and resolved["resolved_at"].endswith("+00:00")
    assert pc.get("/api/v2/incidents/unresolved.json").json["incidents"][0]["id"] == str(seeded["open"])
    upcoming = pc.get("/api/v2/scheduled-maintenances/upcoming.json").json["scheduled_maintenances"]
    assert [m["name"] for m in upcoming] == ["CDN provider switch"]
    assert [c["id"] for c in upcoming[0]["components"]] == ["web", "cdn"]
    active = pc.get("/api/v2/scheduled-maintenances/active.json").json["scheduled_maintenances"]
    assert [m["name"] for m in active] == ["Database upgrade"]


def test_status_json(pc: FlaskClient) -> None:
    assert pc.get("/api/v2/status.json").json["status"]["description"] == "Partial System Outage"
