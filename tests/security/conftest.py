"""Security tests: the shared admin fixtures, plus one app per module for the big tables
(creating an app migrates a fresh database; hundreds of cases must not pay that each)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from argon2 import PasswordHasher
from flask import Flask

from statuspage import create_app
from statuspage.admin import accounts
from statuspage.db import connect
from statuspage.settings import load_settings
from statuspage.storage.api_tokens import create_token
from tests.adminkit import PASSWORD, api_token, fast_argon2, make_user, operator  # noqa: F401 - fixtures
from tests.conftest import BASE_CONFIG, FrozenClock


@pytest.fixture(scope="module")
def module_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """An app with operator `alice` and tokens `reader`/`writer` (see module_tokens)."""
    patch = pytest.MonkeyPatch()
    patch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    path = tmp_path_factory.mktemp("security") / "upwatch.db"
    config = {**BASE_CONFIG, "database": str(path), "channels": [{"id": "ops-log", "kind": "log"}]}
    app = create_app(load_settings(environ={}, **config))
    clock = FrozenClock()
    app.config["UPWATCH_CLOCK"] = clock
    app.config["TESTING"] = True
    db = connect(path)
    accounts.create_user(db, "alice", PASSWORD, clock())
    _t, reader = create_token(db, "reader", "read", "test", clock())
    _t, writer = create_token(db, "writer", "write", "test", clock())
    app.config["TEST_TOKENS"] = {"read": reader, "write": writer}
    app.config["TEST_DB"] = db
    yield app
    db.conn.close()
    patch.undo()


def bearer(app: Flask, scope: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {app.config['TEST_TOKENS'][scope]}"}


def module_db(app: Flask) -> Any:
    return app.config["TEST_DB"]
