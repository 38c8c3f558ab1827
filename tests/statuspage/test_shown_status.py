"""The shown status of a component is the worse of its measured status and what its open
incidents declare; an operator override wins. Page, banner, v2 JSON, badge, feed, metrics and
status history agree for every mix (a table, one line per case)."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any
from xml.etree import ElementTree as ET

import feedparser
import pytest
from flask.testing import FlaskClient

from shared.timeutil import to_iso
from statuspage import incidents as service
from statuspage.engine.component_status import page_status, shown_status
from statuspage.public.snapshot import BANNERS, INDICATORS, STATUS_LABELS
from statuspage.settings import Settings
from statuspage.storage import overrides
from statuspage.storage.status import load_component_status, save_component_status
from statuspage.storage.transaction import immediate
from tests.conftest import FrozenClock

CASES = [
    # measured, declared by an open incident, override, shown
    ("operational", None, None, "operational"),
    ("operational", "partial_outage", None, "partial_outage"),  # the contradiction
    ("major_outage", "degraded_performance", None, "major_outage"),
    ("degraded_performance", "operational", None, "degraded_performance"),
    ("unknown", "degraded_performance", None, "degraded_performance"),
    ("unknown", None, None, "unknown"),
    ("under_maintenance", "partial_outage", None, "partial_outage"),
    ("partial_outage", None, "operational", "operational"),
    ("operational", "major_outage", "degraded_performance", "degraded_performance"),
    ("operational", None, "under_maintenance", "under_maintenance"),
]


@pytest.mark.parametrize(("measured", "declared", "override", "shown"), CASES)
def test_every_output_shows_the_same_status(
    client: FlaskClient,
    db: Any,
    settings: Settings,
    clock: FrozenClock,
    measured: str,
    declared: str | None,
    override: str | None,
    shown: str,
) -> None:
    assert shown_status(measured, [declared] if declared else [], override) == shown
    now = clock()
    with immediate(db):
        save_component_status(
            db, {"web": "operational"} | ({} if measured == "unknown" else {"api": measured}), now
        )
    clock.advance(minutes=5)
    if declared:
        service.create_incident(db, settings, title="API trouble", body="Looking.", actor="op", now=clock(),
                                impact="major", components={"api": declared})  # fmt: skip
    if override:
        with immediate(db):
            overrides.set_override(db, "api", override, "known", "op", clock())
    clock.advance(minutes=1)

    page = client.get("/").get_data(as_text=True)
    on_page = re.search(r'data-component="api" data-status="([a-z_]+)"', page)
    assert on_page and on_page.group(1) == shown
    overall = re.search(r'<section class="banner status-([a-z_]+)"', page)
    banner = re.search(r'<h1 id="overall">([^<]+)</h1>', page)
    assert overall and banner
    impacts = ["major"] if declared else []
    assert overall.group(1) == page_status([shown, "operational"], impacts)
    assert banner.group(1) == BANNERS[overall.group(1)]

    summary = client.get("/api/v2/summary.json").get_json()
    api = next(c for c in summary["components"] if c["id"] == "api")
    assert api["status"] == ("operational" if shown == "unknown" else shown)
    assert summary["status"] == {"indicator": INDICATORS[overall.group(1)], "description": banner.group(1)}

    label = STATUS_LABELS[shown].lower()
    badge = ET.fromstring(client.get("/badge/api.svg").data)
    assert badge.get("aria-label") == f"Public API: {label}"

    metrics = client.get("/metrics").get_data(as_text=True)
    assert f'upwatch_component_status{{component="api",status="{shown}"}} 1.0' in metrics

    if declared:
        feed = feedparser.parse(client.get("/history.atom").data)
        assert f"Public API ({label})" in feed.entries[0].content[0].value

    history = db.execute(
        "SELECT status FROM component_status_history WHERE component_id = 'api' AND ended_at IS NULL"
    ).fetchall()
    assert [row[0] for row in history] == ([] if shown == "unknown" else [shown])


def test_resolving_gives_the_measured_status_back_and_history_keeps_the_declared_time(
    client: FlaskClient, db: Any, settings: Settings, clock: FrozenClock
) -> None:
    start = clock()
    with immediate(db):
        save_component_status(db, {"api": "operational", "web": "operational"}, start)
    clock.advance(hours=1)
    incident = service.create_incident(db, settings, title="Slow API", body="Looking.", actor="op",
                                       now=clock(), impact="minor", components={"api": "partial_outage"})  # fmt: skip
    assert load_component_status(db)["api"] == ("partial_outage", clock())
    clock.advance(minutes=30)
    service.resolve(db, incident, "op", clock(), "Fixed.")
    assert load_component_status(db)["api"][0] == "operational"
    summary = client.get("/api/v2/summary.json").get_json()
    assert summary["status"] == {"indicator": "none", "description": "All Systems Operational"}
    rows = db.execute(
        "SELECT status, started_at, ended_at FROM component_status_history WHERE component_id = 'api' ORDER BY id"
    ).fetchall()
    assert [r[0] for r in rows] == ["operational", "partial_outage", "operational"]
    assert (rows[1][1], rows[1][2]) == (to_iso(start + timedelta(hours=1)), to_iso(clock()))


def test_a_private_incident_changes_nothing_public(client: FlaskClient, db: Any, settings: Settings,
                                                   clock: FrozenClock) -> None:  # fmt: skip
    with immediate(db):
        save_component_status(db, {"api": "operational", "web": "operational"}, clock())
    service.create_incident(db, settings, title="Quiet", body="Internal.", actor="op", now=clock(),
                            impact="critical", components={"api": "major_outage"}, public=False)  # fmt: skip
    summary = json.loads(client.get("/api/v2/summary.json").data)
    assert summary["status"]["indicator"] == "none"
    assert next(c for c in summary["components"] if c["id"] == "api")["status"] == "operational"


def test_indicator_follows_impact_with_matching_words(client: FlaskClient, db: Any, settings: Settings,
                                                      clock: FrozenClock) -> None:  # fmt: skip
    """An incident of major impact that declares no component status: the banner says what the indicator does."""
    with immediate(db):
        save_component_status(db, {"api": "operational", "web": "operational"}, clock())
    service.create_incident(db, settings, title="Logins fail", body="Looking.", actor="op", now=clock(),
                            impact="major")  # fmt: skip
    summary = client.get("/api/v2/summary.json").get_json()
    assert summary["status"] == {"indicator": "major", "description": "Partial System Outage"}
    assert '<h1 id="overall">Partial System Outage</h1>' in client.get("/").get_data(as_text=True)
