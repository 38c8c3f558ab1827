"""Agent reports answered at the WSGI edge (ingest.report_route), the same as through Flask.

The agent API's own tests (test_agent_api.py) run through this route already; these
prove it is the one answering, that it answers like the app's error handlers, and
that the Flask route behind it still works.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from statuspage.ingest import report_route
from statuspage.ingest.report_route import ReportRoute
from statuspage.storage.results import count_results
from tests.statuspage.test_agent_api import REPORTS, post, report

pytestmark = pytest.mark.engines("sqlite", "postgresql")


def test_reports_skip_flasks_request_handling_and_nothing_else_does(
    app: Flask, client: FlaskClient, agent_token: Callable[..., str], db: Any
) -> None:
    dispatched: list[str] = []
    app.before_request(lambda: dispatched.append("flask") and None)
    token = agent_token()
    response = post(client, token, report())
    assert response.status_code == 200 and response.json["accepted"] == 1
    assert dispatched == []  # answered before Flask's dispatch
    assert count_results(db) == 1
    # Request ids and the agent API's headers, as on every other answer.
    assert response.headers["X-Request-ID"] and response.headers["X-Content-Type-Options"] == "nosniff"
    assert (
        client.get("/api/v1/agent/assignments", headers={"Authorization": f"Bearer {token}"}).status_code
        == 200
    )
    assert dispatched == ["flask"]
    # Another method on the same path goes to Flask: 405, in the API's JSON.
    wrong = client.get(REPORTS, headers={"Authorization": f"Bearer {token}"})
    assert wrong.status_code == 405 and "error" in wrong.json


def test_an_unexpected_error_is_a_logged_json_500(
    client: FlaskClient,
    agent_token: Callable[..., str],
    db: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(_request: Any) -> Any:
        raise RuntimeError("the store broke")

    monkeypatch.setattr(report_route, "store_report", broken)
    with caplog.at_level(logging.ERROR, logger="statuspage.web"):
        response = post(client, agent_token(), report())
    assert response.status_code == 500
    assert response.json == {"error": "internal error; the collector logged the details", "details": []}
    assert "the store broke" not in response.get_data(as_text=True)
    assert any(r.exc_info and "the store broke" in str(r.exc_info[1]) for r in caplog.records)
    assert response.headers["X-Request-ID"]
    assert count_results(db) == 0


def test_a_missing_token_is_a_401_with_the_bearer_challenge(client: FlaskClient, db: Any) -> None:
    response = post(client, None, report())
    assert response.status_code == 401 and response.json["error"] == "missing bearer token"
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="upwatch-agent"'
    assert count_results(db) == 0


def test_the_flask_route_answers_without_the_middleware(
    app: Flask, client: FlaskClient, agent_token: Callable[..., str], db: Any
) -> None:
    """An app built without ReportRoute (the route is Flask's too) stores and refuses the same."""
    edge = app.wsgi_app.wsgi_app  # type: ignore[attr-defined]  # web.ResponseHeaders -> ReportRoute
    assert isinstance(edge, ReportRoute)
    app.wsgi_app.wsgi_app = edge.wsgi_app  # type: ignore[attr-defined]
    token = agent_token()
    assert post(client, token, report()).json["accepted"] == 1
    assert post(client, None, report()).status_code == 401
    assert post(client, token, {"agent": "edge-1"}).status_code == 422
    assert count_results(db) == 1
