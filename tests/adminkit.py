"""Fixtures for admin and security tests: an operator, a signed-in browser-like client, API tokens."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from statuspage.admin.accounts import create_user
from statuspage.storage.api_tokens import create_token

PASSWORD = "correct horse battery staple"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Operator:
    client: FlaskClient
    csrf: str
    name: str

    def post(self, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        return self.client.post(path, data={"csrf_token": self.csrf, **(data or {})}, **kwargs)


def csrf_of(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "no CSRF field in the page"
    return match.group(1)


def sign_in(
    client: FlaskClient, name: str, password: str = PASSWORD, code: str = "", next: str = "", **request: Any
) -> Any:
    """Fetch the login form (sets the login CSRF cookie) and post it; return the response.

    `request` goes to the POST (headers=, environ_base=).
    """
    token = csrf_of(client.get("/admin/login").text)
    data = {"name": name, "password": password, "code": code, "csrf_token": token, "next": next}
    return client.post("/admin/login", data=data, **request)


@pytest.fixture(autouse=True)
def fast_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    """Real argon2id with small costs: the production profile costs ~0.1 s per hash on 2 cores."""
    from argon2 import PasswordHasher

    from statuspage.admin import accounts

    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def make_user(db: Any, clock: Any) -> Callable[..., Any]:
    def factory(name: str = "alice", password: str = PASSWORD, totp: bool = False) -> Any:
        return create_user(db, name, password, clock(), with_totp=totp)

    return factory


@pytest.fixture
def operator(app: Flask, make_user: Callable[..., Any]) -> Operator:
    """A signed-in operator with the CSRF token of its session."""
    make_user("alice")
    client = app.test_client()
    response = sign_in(client, "alice")
    assert response.status_code == 303, response.text
    return Operator(client, csrf_of(client.get("/admin/account").text), "alice")


@pytest.fixture
def api_token(db: Any, clock: Any) -> Callable[[str], dict[str, str]]:
    """Create an admin API token with a scope; return the Authorization header."""
    counter = iter(range(1000))

    def factory(scope: str = "write") -> dict[str, str]:
        _token, secret = create_token(db, f"t{next(counter)}-{scope}", scope, "test", clock())
        return {"Authorization": f"Bearer {secret}"}

    return factory


def sample_value(converter: str, name: str) -> str:
    """A plausible value for a URL argument, so every rule can be requested."""
    if converter in ("IntegerConverter", "BoundedIntConverter"):
        return "1"
    return {"component_id": "api", "channel_id": "ops-log", "name": "edge-1", "token": "x"}.get(name, "x")


def routes(app: Flask, prefix: str) -> list[tuple[str, str, str]]:
    """(method, concrete URL, endpoint) for every rule under `prefix` (from the url_map, so new
    routes are covered without editing the tests)."""
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(prefix) or rule.endpoint.endswith("static"):
            continue
        url = rule.rule
        for name in rule.arguments:
            converter = type(rule._converters[name]).__name__
            url = re.sub(rf"<(?:[a-z]+:)?{name}>", sample_value(converter, name), url)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found.append((method, url, rule.endpoint))
    return found
