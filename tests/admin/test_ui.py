"""The admin UI's actions through its forms: each changes what it says and lands in the audit log."""

from __future__ import annotations

from typing import Any

from statuspage import incidents as service
from statuspage.storage import maintenance
from tests.adminkit import Operator


def _audit(db: Any) -> list[str]:
    return [row[0] for row in db.execute("SELECT action FROM audit_log ORDER BY id").fetchall()]


def test_incident_actions_from_the_forms(operator: Operator, db: Any, settings: Any, clock: Any) -> None:
    created = operator.post(
        "/admin/incidents",
        {
            "title": "Checkout slow",
            "body": "Looking",
            "impact": "minor",
            "component.api": "degraded_performance",
        },
    )
    assert created.status_code == 303 and created.headers["Location"].startswith("/admin/incidents/1")
    base = "/admin/incidents/1"
    assert operator.post(base + "/acknowledge").status_code == 303
    assert operator.post(base + "/updates", {"status": "identified", "body": "Found it"}).status_code == 303
    assert operator.post(base + "/impact", {"impact": "major"}).status_code == 303
    bad = operator.post(base + "/updates", {"status": "exploded", "body": "x"})
    assert bad.status_code == 422 and "status" in bad.text
    preview = operator.post(
        base + "/postmortem", {"markdown": "## Timeline\n<script>x</script>", "action": "preview"}
    )
    assert "<h2>Timeline</h2>" in preview.text and "<script>x" not in preview.text
    assert operator.post(base + "/resolve").status_code == 303
    assert (
        operator.post(base + "/postmortem", {"markdown": "## Timeline", "action": "publish"}).status_code
        == 303
    )
    page = operator.client.get(base).text
    assert "postmortem" in page and "Found it" in page
    assert _audit(db)[-6:] == [
        "incident.create", "incident.acknowledge", "incident.update", "incident.impact",
        "incident.resolve", "incident.postmortem",
    ]  # fmt: skip


def test_publish_a_waiting_incident(operator: Operator, db: Any, settings: Any, clock: Any) -> None:
    incident_id = service.create_incident(db, settings, title="Quiet", body="b", actor="engine", now=clock(),
                                          public=False)  # fmt: skip
    assert operator.post(f"/admin/incidents/{incident_id}/publish").status_code == 303
    assert (
        operator.post(f"/admin/incidents/{incident_id}/publish")
        .headers["Location"]
        .endswith("notice=already")
    )


def test_maintenance_schedule_change_complete(operator: Operator, db: Any) -> None:
    form = {"title": "DB upgrade", "scheduled_for": "2026-11-28T10:00", "scheduled_until": "2026-11-28T11:00",
            "components": "api"}  # fmt: skip
    assert operator.post("/admin/maintenance", form).status_code == 303
    backwards = {**form, "scheduled_until": "2026-11-28T09:00"}
    assert operator.post("/admin/maintenance", backwards).status_code == 422
    assert operator.post("/admin/maintenance/1", {"title": "DB upgrade v2"}).status_code == 303
    window = maintenance.get_maintenance(db, 1)
    assert window is not None and window.title == "DB upgrade v2" and window.components == ["api"]
    assert operator.post("/admin/maintenance/1/complete").status_code == 303
    assert maintenance.get_maintenance(db, 1).status == "completed"  # type: ignore[union-attr]
    assert operator.post("/admin/maintenance/1", {"title": "x"}).status_code == 422


def test_override_token_and_agent_pages(operator: Operator, db: Any, agent_token: Any) -> None:
    agent_token("edge-1")
    assert (
        operator.post(
            "/admin/components/api/override", {"status": "major_outage", "reason": "known"}
        ).status_code
        == 303
    )
    assert 'data-component="api" data-status="major_outage"' in operator.client.get("/").text
    assert operator.post("/admin/components/api/override", {"status": ""}).status_code == 303
    created = operator.post("/admin/tokens", {"name": "ci", "scope": "read"})
    assert created.status_code == 200 and "uwt_" in created.text
    assert operator.post("/admin/tokens", {"name": "ci", "scope": "read"}).status_code == 422
    assert operator.post("/admin/tokens/ci/revoke").status_code == 303
    assert "edge-1" in operator.client.get("/admin/agents").text
    assert operator.post("/admin/agents/edge-1/revoke").status_code == 303
    assert "edge-1" not in operator.client.get("/admin/agents").text
    assert operator.post("/admin/agents/nobody/revoke").status_code == 404
    assert {
        "component.override",
        "component.override_clear",
        "token.create",
        "token.revoke",
        "agent.revoke",
    } <= set(_audit(db))
