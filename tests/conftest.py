"""Shared fixtures: an app on a real SQLite file, its test client, and a CLI runner."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from statuspage import create_app
from statuspage.db import connect
from statuspage.settings import Settings, load_settings
from statuspage.storage.agents import create_agent

T0 = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)

BASE_CONFIG: dict[str, Any] = {
    "page": {"name": "Test Status"},
    "groups": [{"id": "core", "name": "Core"}],
    "components": [
        {"id": "api", "name": "Public API", "group": "core"},
        {"id": "web", "name": "Website"},
    ],
    "checks": [
        {
            "id": "api-health",
            "component": "api",
            "kind": "http",
            "url": "http://127.0.0.1:9/health",
            "interval": "10s",
            "run_on": ["label:eu"],
        },
        {
            "id": "web-port",
            "component": "web",
            "kind": "tcp",
            "host": "127.0.0.1",
            "port": 9,
            "interval": "10s",
            "run_on": ["agent:edge-1"],
        },
    ],
}


class FrozenClock:
    """An injected clock: tests move time explicitly, never sleep."""

    def __init__(self, start: datetime = T0):
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        from datetime import timedelta

        self.now += timedelta(**kwargs)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    def factory(**overrides: Any) -> Settings:
        data = {**BASE_CONFIG, "database": str(tmp_path / "upwatch.db"), **overrides}
        return load_settings(environ={}, **data)

    return factory


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture
def app(settings: Settings, clock: FrozenClock) -> Flask:
    app = create_app(settings)
    app.config["UPWATCH_CLOCK"] = clock
    app.config["TESTING"] = True
    return app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def db(settings: Settings, app: Flask) -> Any:
    database = connect(settings.database)
    yield database
    database.conn.close()


@pytest.fixture
def agent_token(db: Any, clock: FrozenClock) -> Callable[..., str]:
    """Create an agent directly in the database; return its bearer token."""

    def factory(name: str = "edge-1", labels: list[str] | None = None) -> str:
        _agent, token = create_agent(db, name, labels or ["eu"], clock())
        return token

    return factory
