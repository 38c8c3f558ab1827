"""A check's secrets (database passwords, SNMP keys) never show in results, logs, forensics
or the admin UI, even when the server echoes them back.

A real redis-server is asked with an inline password and told to ECHO it; the
results go through the agent API into a real SQLite file, and the admin pages
and the incident forensics built from them are searched for the secret.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient

from agent.daemon import new_session
from agent.probes import run_check
from agent.probes.context import ProbeContext
from statuspage.forensics import snapshot
from statuspage.settings import Settings
from tests.adminkit import Operator
from tests.conftest import BASE_CONFIG
from tests.servers import Server, redis_server

SECRET = "Rd-Inline-Secret-77"
WRONG = "Rd-Wrong-Secret-79"


@pytest.fixture(scope="module")
def redis_secret() -> Iterator[Server]:
    with redis_server(SECRET) as server:
        yield server


@pytest.fixture
def settings(make_settings: Callable[..., Settings], redis_secret: Server) -> Settings:
    common = {"component": "api", "kind": "redis", "host": "127.0.0.1", "port": redis_secret.port}
    checks = [
        {**common, "id": "cache-echo", "password": SECRET, "command": ["ECHO", f"password={SECRET}"]},
        {**common, "id": "cache-wrong", "password": WRONG},
        {
            **common,
            "id": "cache-env",
            "password": {"env": "UPWATCH_SECRET_CACHE"},
            "command": ["ECHO", SECRET],
        },
    ]
    return make_settings(checks=[*BASE_CONFIG["checks"], *checks])


async def test_secrets_stay_out_of_everything_people_see(
    settings: Settings,
    client: FlaskClient,
    agent_token: Callable[..., str],
    operator: Operator,
    db: Any,
    clock: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    checks = [check for check in settings.checks if check.id.startswith("cache-")]
    async with new_session() as session:
        context = ProbeContext(session=session, clock=clock, environ={"UPWATCH_SECRET_CACHE": SECRET})
        results = [await run_check(check, context) for check in checks]
    by_id = {result.check_id: result for result in results}
    assert by_id["cache-echo"].status == "up"
    assert by_id["cache-echo"].detail["result"] == "password=***"
    assert by_id["cache-env"].detail["result"] == "***"
    assert by_id["cache-wrong"].status == "down"

    report = {
        "agent": "edge-1",
        "agent_version": "0.1.0",
        "sent_at": clock().isoformat(),
        "results": [json.loads(result.model_dump_json()) for result in results],
    }
    response = client.post(
        "/api/v1/agent/reports", json=report, headers={"Authorization": f"Bearer {agent_token()}"}
    )
    assert response.status_code == 200, response.json

    seen = [json.dumps(report), json.dumps(snapshot(db, settings, ["api"], clock()), default=str)]
    for page in ("/admin/", "/admin/agents", "/admin/components", "/admin/incidents"):
        page_response = operator.client.get(page)
        assert page_response.status_code == 200, page
        seen.append(page_response.text)
    seen.append("\n".join(record.getMessage() for record in caplog.records))
    assert "cache-echo" in seen[2]  # the dashboard does show the checks
    assert WRONG not in repr(checks)  # what a log line naming a check would print
    for text in seen:
        for secret in (SECRET, WRONG):
            assert secret not in text
