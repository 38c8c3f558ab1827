"""A check's admin page from real ingested results: SVG response-time charts per location
from the rollups, the timing breakdown, failures with their errors and the state flips."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from statuspage.storage.rollups import roll_up_results
from tests.adminkit import Operator
from tests.conftest import FrozenClock
from tests.statuspage.test_agent_api import REPORTS, report, result


def test_check_page_shows_history_per_location(
    operator: Operator, agent_token: Callable[..., str], db: Any, clock: FrozenClock
) -> None:
    token = agent_token("edge-1", ["eu"])
    results = []
    for minute in range(10):
        at = clock() - timedelta(minutes=10 - minute)
        failing = minute >= 6  # four failures: past the failure threshold
        results.append(result(started_at=at.isoformat(), latency_ms=100.0 + minute, status="down" if failing else "up",
                              error="HTTP 503" if failing else None,
                              metrics={"dns_ms": 2.0, "connect_ms": 10.0, "tls_ms": 20.0, "first_byte_ms": 60.0}))  # fmt: skip
    body = report(agent="edge-1", sent_at=clock().isoformat(), results=results)
    response = operator.client.post(REPORTS, json=body, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    roll_up_results(db)

    page = operator.client.get("/admin/checks/api-health")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert text.count('<svg class="chart"') == 3
    assert re.search(r'<polyline class="s0" points="[\d., ]+"', text), "no line for the location"
    assert len(re.findall(r"edge-1: 10[345] ms average", text)) == 6  # legend and aria-label of 3 charts
    assert "DNS 2.0 ms" in text and "First byte 60.0 ms" in text
    assert "HTTP 503" in text
    assert "edge-1: No data → Down" in text
    assert "style=" not in text and "<script" not in text
    assert operator.client.get("/admin/checks/no-such-check").status_code == 404


def test_agents_page_shows_backlog_and_drops(
    operator: Operator, agent_token: Callable[..., str], clock: FrozenClock
) -> None:
    token = agent_token("edge-1", ["eu"])
    body = report(agent="edge-1", sent_at=clock().isoformat(), results=[result(started_at=clock().isoformat())],
                  backlog=7, dropped=3)  # fmt: skip
    response = operator.client.post(REPORTS, json=body, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    text = operator.client.get("/admin/agents").get_data(as_text=True)
    assert "7 waiting" in text and "3 lost (spool full)" in text and "0.1.0" in text
    bad = report(agent="edge-1", sent_at=clock().isoformat(), results=[], backlog=-1)
    assert (
        operator.client.post(REPORTS, json=bad, headers={"Authorization": f"Bearer {token}"}).status_code
        == 422
    )
