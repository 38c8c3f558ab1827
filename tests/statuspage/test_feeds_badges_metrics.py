"""Feeds parsed by feedparser, badges parsed as SVG, metrics parsed by prometheus-client."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import feedparser
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

SVG = "{http://www.w3.org/2000/svg}"


def test_atom_feed(pc: FlaskClient, seeded: dict[str, int]) -> None:
    response = pc.get("/history.atom")
    assert response.mimetype == "application/atom+xml"
    feed = feedparser.parse(response.data)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "atom10"
    assert feed.feed.title == "Acme Status – incident history"
    assert [e.link for e in feed.entries] == [
        f"https://status.acme.test/incidents/{seeded[k]}" for k in ("open", "resolved", "old")
    ]
    resolved = feed.entries[1]
    assert resolved.title == "[Resolved] Elevated API error rates"
    content = resolved.content[0].value
    assert (
        content.index("back to normal") < content.index("bad deploy") < content.index("investigating errors")
    )
    assert "Affected: Public API" in content
    assert resolved.published_parsed and resolved.updated_parsed


def test_rss_feed(pc: FlaskClient, seeded: dict[str, int]) -> None:
    feed = feedparser.parse(pc.get("/history.rss").data)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "rss20"
    assert len(feed.entries) == 3
    assert feed.entries[0].id == f"https://status.acme.test/incidents/{seeded['open']}"
    assert "saturated upstream link" in feed.entries[0].description


def test_status_badge(pc: FlaskClient) -> None:
    response = pc.get("/badge/api.svg")
    assert response.mimetype == "image/svg+xml"
    root = ET.fromstring(response.data)
    assert root.tag == f"{SVG}svg" and root.get("aria-label") == "Public API: partial outage"
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "Public API" in texts and "partial outage" in texts
    assert ET.fromstring(pc.get("/badge/cdn.svg").data).get("aria-label") == "CDN: no data yet"


def test_uptime_badge(pc: FlaskClient) -> None:
    root = ET.fromstring(pc.get("/badge/api/uptime.svg?days=30").data)
    label = root.get("aria-label") or ""
    assert label.startswith("Public API uptime 30d: 99.") and label.endswith("%")
    assert ET.fromstring(pc.get("/badge/web/uptime.svg").data).get("aria-label") == "Website uptime 30d: 100%"
    assert (
        ET.fromstring(pc.get("/badge/cdn/uptime.svg?days=7").data).get("aria-label")
        == "CDN uptime 7d: no data"
    )


def test_metrics(pc: FlaskClient) -> None:
    response = pc.get("/metrics")
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.get_data(as_text=True))
        for s in family.samples
    }

    def value(name: str, **labels: str) -> float:
        return samples[(name, tuple(sorted(labels.items())))]

    assert value("probe_success", check="api-health", location="edge-eu", component="api") == 0
    assert value("probe_success", check="db-host", location="db-1", component="db") == 1
    assert value("probe_duration_seconds", check="api-health", location="edge-us", component="api") == 0.8125
    assert value("upwatch_component_status", component="api", status="partial_outage") == 1
    assert value("upwatch_component_status", component="api", status="operational") == 0
    assert value("upwatch_open_incidents", impact="minor") == 1
    assert value("upwatch_open_incidents", impact="critical") == 0  # the drill is not counted
    assert value("upwatch_results_total", check="api-health", location="edge-eu", status="down") == 1
    assert value("node_memory_used_ratio", instance="db-1", check="db-host") == 0.4
    assert value("node_filesystem_used_ratio", instance="db-1", check="db-host", mountpoint="/") == 0.71
    assert value("node_cpu_busy_ratio", instance="db-1", check="db-host") == 0.125
