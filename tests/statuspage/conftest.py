"""Fixtures for the public outputs: an app over the realistic data set in public_data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from statuspage import create_app
from statuspage.db import connect
from statuspage.settings import Settings, load_settings
from tests.conftest import FrozenClock, copy_of_migrated
from tests.statuspage.public_data import PUBLIC_CONFIG, seed


@pytest.fixture
def public_settings(tmp_path: Path, migrated_sqlite_file: Path) -> Settings:
    database = copy_of_migrated(migrated_sqlite_file, tmp_path, "public.db")
    return load_settings(environ={}, **PUBLIC_CONFIG, database=database)


@pytest.fixture
def public_app(public_settings: Settings, clock: FrozenClock) -> Flask:
    app = create_app(public_settings)
    app.config["UPWATCH_CLOCK"] = clock
    app.config["TESTING"] = True
    return app


@pytest.fixture
def seeded(public_app: Flask, public_settings: Settings, clock: FrozenClock) -> dict[str, int]:
    db = connect(public_settings.database)
    try:
        return seed(db, clock())
    finally:
        db.conn.close()


@pytest.fixture
def pc(public_app: Flask, seeded: dict[str, int]) -> FlaskClient:
    """A test client over the seeded public data."""
    return public_app.test_client()


def html_of(client: FlaskClient, path: str) -> Any:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return response.get_data(as_text=True)
