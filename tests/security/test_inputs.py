"""Hostile request shapes: path traversal, oversized and deeply nested JSON, odd encodings."""

from __future__ import annotations

import pytest
from flask import Flask

from tests.security.conftest import bearer

# Paths that try to leave the static folders or reach files by traversal.
TRAVERSALS = [
    "/static/../settings.py",
    "/static/..%2fsettings.py",
    "/static/%2e%2e/%2e%2e/pyproject.toml",
    "/static/....//....//etc/passwd",
    "/static/..\\..\\settings.py",
    "/static/%252e%252e/settings.py",
    "/static/status.css/../../__init__.py",
    "/static//etc/passwd",
    "/static/%00status.css",
    "/admin/static/../templates/admin/base.html",
    "/admin/static/..%2f..%2fui.py",
    "/admin/static/%2e%2e%2fui.py",
    "/badge/..%2f..%2fetc%2fpasswd.svg",
    "/badge/../../etc/passwd.svg",
    "/incidents/..%2f..%2fetc%2fpasswd",
    "/api/v2/../../../etc/passwd",
    "/ping/../../etc/passwd",
    "/subscribe/confirm/..%2f..%2fetc%2fpasswd",
]
SECRETS = [b"root:x:0:0", b"import ", b"[project]", b"{% extends", b"def "]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_path_traversal(module_app: Flask, path: str) -> None:
    response = module_app.test_client().get(path)
    assert response.status_code in (301, 303, 308, 400, 401, 404, 405), (path, response.status_code)
    for secret in SECRETS:
        assert secret not in response.data, (path, secret)


def _nested(depth: int, kind: str) -> str:
    if kind == "list":
        return "[" * depth + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth


# (description, body) — each must get a 4xx with a JSON error, never a 5xx.
BODIES = [
    ("nested lists 10k", _nested(10_000, "list")),
    ("nested objects 10k", _nested(10_000, "dict")),
    ("nested lists 100k", _nested(100_000, "list")),
    ("nested in a field", '{"title": "x", "body": "y", "components": ' + _nested(5000, "dict") + "}"),
    ("oversized body", '{"title": "x", "body": "' + "a" * 300_000 + '"}'),
    ("oversized string in limits", '{"title": "' + "t" * 5000 + '", "body": "y"}'),
    ("NaN", '{"title": "x", "body": "y", "public": NaN}'),
    ("huge number", '{"title": "x", "body": "y", "public": 1e999999}'),
    ("duplicate keys", '{"title": "x", "title": "y", "body": "z"}'),
    ("invalid utf-8", b'{"title": "\xff\xfe", "body": "y"}'),
    ("lone surrogate", '{"title": "\\ud800", "body": "y"}'),
    ("NUL in text", '{"title": "a\\u0000b", "body": "y"}'),
    ("not an object", "[1, 2, 3]"),
    ("empty", ""),
    ("truncated", '{"title": "x", "bo'),
    ("many keys", "{" + ",".join(f'"k{i}": {i}' for i in range(50_000)) + "}"),
    ("wide components", '{"title": "x", "body": "y", "components": {'
     + ",".join(f'"c{i}": "major_outage"' for i in range(2000)) + "}}"),
]  # fmt: skip


@pytest.mark.parametrize(("label", "body"), BODIES, ids=[b[0] for b in BODIES])
def test_hostile_json_bodies(module_app: Flask, label: str, body: str | bytes) -> None:
    response = module_app.test_client().post(
        "/api/v1/admin/incidents",
        data=body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body,
        content_type="application/json",
        headers=bearer(module_app, "write"),
    )
    assert 400 <= response.status_code < 500, (label, response.status_code, response.data[:200])
    assert response.is_json and response.get_json()["error"]


def test_agent_api_refuses_nested_json(module_app: Flask, agent_token_module: str) -> None:
    response = module_app.test_client().post(
        "/api/v1/agent/reports",
        data=_nested(100_000, "list"),
        content_type="application/json",
        headers={"Authorization": f"Bearer {agent_token_module}"},
    )
    assert 400 <= response.status_code < 500


@pytest.fixture(scope="module")
def agent_token_module(module_app: Flask) -> str:
    from statuspage.storage.agents import create_agent
    from tests.security.conftest import module_db

    _agent, token = create_agent(
        module_db(module_app), "edge-x", ["eu"], module_app.config["UPWATCH_CLOCK"]()
    )
    return token


@pytest.mark.parametrize(
    "form",
    [
        {"name": "a" * 100_000, "password": "x"},
        {"name": "alice", "password": "p" * 100_000},
        {"name": "\x00", "password": "\x00"},
        {"name": "alice\r\nSet-Cookie: x=1", "password": "x"},
    ],
)
def test_hostile_login_forms(module_app: Flask, form: dict[str, str]) -> None:
    from tests.adminkit import csrf_of

    client = module_app.test_client()
    token = csrf_of(client.get("/admin/login").text)
    response = client.post("/admin/login", data={**form, "csrf_token": token})
    assert response.status_code in (401, 413, 429)
    assert "x=1" not in response.headers.get("Set-Cookie", "")
