"""Admin pages of issue 9: SLA reports with CSV and JSON export, and drill reports."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

from statuspage import drills
from statuspage import incidents as service
from statuspage.settings import Settings
from tests.adminkit import Operator
from tests.conftest import FrozenClock


def test_reports_page_and_exports(
    operator: Operator, db: Any, settings: Settings, clock: FrozenClock
) -> None:
    incident_id = service.create_incident(
        db,
        settings,
        title="API down",
        body="b",
        actor="alice",
        now=clock() - timedelta(hours=2),
        impact="major",
        components={"api": "major_outage"},
    )
    service.acknowledge(db, incident_id, "alice", clock() - timedelta(hours=1, minutes=50))
    service.resolve(db, incident_id, "alice", clock() - timedelta(hours=1))
    page = operator.client.get("/admin/reports?period=2026-11")
    assert page.status_code == 200
    assert "SLA report · 2026-11" in page.text and "10.0 min" in page.text  # MTTA
    exported = operator.client.get("/admin/reports.csv?period=2026-11")
    assert (
        exported.mimetype == "text/csv"
        and "upwatch-sla-2026-11.csv" in exported.headers["Content-Disposition"]
    )
    rows = {r["component"]: r for r in csv.DictReader(io.StringIO(exported.text))}
    assert rows["api"]["incidents"] == "1" and float(rows["api"]["downtime_s"]) == 3600.0
    as_json = operator.client.get("/admin/reports.json?period=2026-Q4").json
    assert {r["component"] for r in as_json["reports"]} == {"api", "web"}
    assert operator.client.get("/admin/reports?period=2026-13").status_code == 400
    assert operator.client.get("/admin/reports").status_code == 200  # default: this month


def test_reports_need_a_session(client: Any) -> None:
    for path in (
        "/admin/reports",
        "/admin/reports.csv",
        "/admin/reports.json",
        "/admin/drills",
        "/admin/drills/1",
    ):
        response = client.get(path)
        assert response.status_code in (302, 303, 401), path
        assert "SLA" not in response.text


def test_drill_pages(operator: Operator, db: Any, settings: Settings, clock: FrozenClock) -> None:
    drill_id = drills.start(db, settings, "api", timedelta(minutes=2), "alice", clock())
    listing = operator.client.get("/admin/drills")
    assert listing.status_code == 200 and f"#{drill_id}" in listing.text and "running" in listing.text
    running = operator.client.get(f"/admin/drills/{drill_id}")
    assert running.status_code == 200 and "no injected failure reached the collector" in running.text
    drills.finish(db, settings, drill_id, clock(), aborted=True)
    finished = operator.client.get(f"/admin/drills/{drill_id}")
    assert "aborted" in finished.text
    assert operator.client.get("/admin/drills/999").status_code == 404
