"""Incident timeline events read as plain words: no JSON, no enums, no `user:` prefixes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from statuspage.admin.timeline import describe, forensics_view, resolve_message
from statuspage.storage.incidents import IncidentEvent

NAMES = {"api": "Public API", "web": "Website"}
CASES = [
    ("user:alice", "acknowledged", {}, "alice acknowledged"),
    ("user:alice", "status_changed", {"old": "investigating", "new": "identified", "update_id": 2},
     "alice changed the status: Investigating → Identified"),
    ("token:ci", "updated", {"old": "monitoring", "new": "monitoring"}, "API token ci posted an update (Monitoring)"),
    ("engine", "escalated", {"level": 0, "round": 0, "channels": ["ops-chat"]}, "upwatch paged ops-chat (level 1)"),
    ("engine", "opened", {"status": "investigating", "impact": "major", "public": True},
     "upwatch opened it: Investigating, major impact"),
    ("user:bob", "impact_changed", {"old": "minor", "new": "critical"}, "bob changed the impact: Minor → Critical"),
    ("user:bob", "components_changed", {"old": {}, "new": {"api": "partial_outage"}},
     "bob set the affected components: Public API (partial outage)"),
    ("engine", "component_joined", {"component": "web", "old": "operational", "new": "major_outage"},
     "upwatch added Website: operational → major outage"),
    ("user:bob", "published", {}, "bob published it on the status page"),
    ("user:bob", "some_new_kind", {"x": 1}, "bob: some new kind"),
]  # fmt: skip


@pytest.mark.parametrize(("actor", "kind", "data", "words"), CASES)
def test_events_in_plain_words(actor: str, kind: str, data: dict[str, Any], words: str) -> None:
    event = IncidentEvent(1, 1, datetime(2026, 11, 27, tzinfo=UTC), actor, kind, data)
    assert describe(event, NAMES) == words


def test_forensics_per_location_and_resolve_message() -> None:
    snapshot = {"results": [{"check_id": "api-health", "agent": "edge-eu", "status": "down", "error": "timeout",
                             "latency_ms": 5000.0, "status_code": None, "body_excerpt": None,
                             "timings": {"dns_ms": 2.0, "connect_ms": 10.5, "tls_ms": 30.0, "first_byte_ms": 0.0,
                                         "total_ms": 5000.0}}]}  # fmt: skip
    [view] = forensics_view(snapshot)
    assert (view.agent, view.status, view.error, view.total_ms) == ("edge-eu", "down", "timeout", 5000.0)
    assert view.phases == [("DNS", 2.0), ("Connect", 10.5), ("TLS", 30.0), ("First byte", 0.0)]
    assert forensics_view({}) == []
    assert resolve_message("API errors", {"api": "major_outage"}, NAMES) == (
        "This incident has been resolved: Public API is working normally again."
    )
