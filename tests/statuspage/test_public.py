"""The first public page: components in groups with the status the latest results give."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask.testing import FlaskClient

from statuspage.worker import Worker
from tests.conftest import FrozenClock


def send(
    client: FlaskClient, token: str, clock: FrozenClock, status: str, check_id: str = "api-health"
) -> None:
    body = {
        "agent": "edge-1",
        "agent_version": "0.1.0",
        "sent_at": clock().isoformat(),
        "results": [
            {
                "id": str(uuid.uuid4()),
                "check_id": check_id,
                "started_at": clock().isoformat(),
                "latency_ms": 5.0,
                "status": status,
            }
        ],
    }
    response = client.post(
        "/api/v1/agent/reports",
        data=json.dumps(body),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.json


def component_status(client: FlaskClient, component: str) -> str:
    html = client.get("/").get_data(as_text=True)
    marker = f'data-component="{component}" data-status="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


def test_page_lists_groups_and_components(client: FlaskClient) -> None:
    response = client.get("/")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<title>Test Status</title>" in html
    assert "Core" in html and "Public API" in html and "Website" in html
    assert component_status(client, "api") == "unknown"
    assert "No data yet" in html


def test_status_follows_results_and_thresholds(
    client: FlaskClient, agent_token: Callable[..., str], clock: FrozenClock
) -> None:
    token = agent_token()
    send(client, token, clock, "up")
    assert component_status(client, "api") == "operational"
    send(client, token, clock, "up", "web-port")
    assert "All Systems Operational" in client.get("/").get_data(as_text=True)
    clock.advance(seconds=10)
    send(client, token, clock, "down")
    assert component_status(client, "api") == "operational"  # below failure_threshold
    clock.advance(seconds=10)
    send(client, token, clock, "down")
    assert component_status(client, "api") == "major_outage"
    assert "Major System Outage" in client.get("/").get_data(as_text=True)
    clock.advance(seconds=10)
    send(client, token, clock, "up")
    clock.advance(seconds=10)
    send(client, token, clock, "up")
    assert component_status(client, "api") == "operational"


def test_worker_marks_silent_components_unknown(
    client: FlaskClient, agent_token: Callable[..., str], clock: FrozenClock, settings: Any
) -> None:
    token = agent_token()
    send(client, token, clock, "up")
    assert component_status(client, "api") == "operational"
    clock.advance(seconds=31)  # 3 intervals of 10 s without a result
    Worker(settings, clock=clock).run_pass()
    assert component_status(client, "api") == "unknown"


def test_page_escapes_config_text(make_settings: Callable[..., Any], clock: FrozenClock) -> None:
    from statuspage import create_app

    settings = make_settings(
        page={"name": "<script>alert(1)</script>"},
        components=[{"id": "api", "name": '"><img src=x onerror=alert(1)>'}],
        checks=[],
        groups=[],
    )
    html = create_app(settings).test_client().get("/").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html
    assert "<img src=x" not in html
    assert "&lt;script&gt;" in html


def test_healthz(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json["status"] == "ok"


def test_unknown_api_path_is_json_404(client: FlaskClient) -> None:
    response = client.get("/api/v1/nothing")
    assert response.status_code == 404 and "error" in response.json


def test_clock_advance_helper(clock: FrozenClock) -> None:
    before = clock()
    clock.advance(minutes=1)
    assert clock() - before == timedelta(minutes=1)
