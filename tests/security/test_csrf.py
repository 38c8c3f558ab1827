"""CSRF on every state-changing admin form (enumerated from the url_map) and on the login form."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from statuspage import create_app
from statuspage.settings import load_settings
from tests.adminkit import PASSWORD, csrf_of, routes, sign_in
from tests.conftest import BASE_CONFIG
from tests.security.conftest import module_db

_APP = create_app(load_settings(environ={}, **{**BASE_CONFIG, "database": ":memory:"}))
POST_ROUTES = [r for r in routes(_APP, "/admin") if r[0] == "POST" and r[2] != "admin.login"]


def _signed_in(app: Flask) -> tuple[FlaskClient, str]:
    client = app.test_client()
    assert sign_in(client, "alice").status_code == 303
    return client, csrf_of(client.get("/admin/account").text)


def _audit_count(app: Flask) -> int:
    return int(module_db(app).execute("SELECT count(*) FROM audit_log").fetchone()[0])


@pytest.fixture(scope="module")
def sessions(module_app: Flask) -> tuple[FlaskClient, str, str]:
    """Alice signed in twice: (client of session A, A's token, B's token)."""
    client, token = _signed_in(module_app)
    _other, other_token = _signed_in(module_app)
    return client, token, other_token


# (what is sent) — each a forged request that must change nothing.
FORGERIES = [
    ("no token", {}, {}),
    ("empty token", {"csrf_token": ""}, {}),
    ("wrong token", {"csrf_token": "x" * 43}, {}),
    ("token of another session", {"csrf_token": "OTHER"}, {}),
    ("valid token, foreign Origin", {"csrf_token": "MINE"}, {"Origin": "https://evil.example"}),
    ("valid token, null Origin", {"csrf_token": "MINE"}, {"Origin": "null"}),
    ("valid token, Origin on another port", {"csrf_token": "MINE"}, {"Origin": "http://localhost:8081"}),
]


@pytest.mark.parametrize(("method", "url", "endpoint"), POST_ROUTES)
@pytest.mark.parametrize(("label", "form", "headers"), FORGERIES, ids=[f[0] for f in FORGERIES])
def test_forged_posts_are_refused(
    module_app: Flask,
    sessions: tuple[FlaskClient, str, str],
    method: str,
    url: str,
    endpoint: str,
    label: str,
    form: dict[str, str],
    headers: dict[str, str],
) -> None:
    client, mine, other = sessions
    data = {k: {"MINE": mine, "OTHER": other}.get(v, v) for k, v in form.items()}
    before = _audit_count(module_app)
    response = client.post(url, data=data, headers=headers)
    assert response.status_code == 403, (url, label)
    assert _audit_count(module_app) == before
    assert client.get("/admin/account").status_code == 200  # the session itself still works


@pytest.mark.parametrize("origin", [None, "http://localhost", "http://127.0.0.1:8080"])
def test_a_valid_token_is_accepted(
    module_app: Flask, sessions: tuple[FlaskClient, str, str], origin: str | None
) -> None:
    """Same origin as the request's Host, or as page.url (behind a proxy on another port)."""
    client, mine, _other = sessions
    headers = {"Origin": origin} if origin else {}
    response = client.post("/admin/channels/ops-log/test", data={"csrf_token": mine}, headers=headers)
    assert response.status_code == 303


LOGIN_FORGERIES = [
    ("no cookie, no field", None, None),
    ("field without cookie", None, "abc"),
    ("cookie without field", "abc", None),
    ("mismatch", "abc", "abd"),
]


@pytest.mark.parametrize(("label", "cookie", "field"), LOGIN_FORGERIES, ids=[f[0] for f in LOGIN_FORGERIES])
def test_login_form_csrf(module_app: Flask, label: str, cookie: str | None, field: str | None) -> None:
    client = module_app.test_client()
    if cookie is not None:
        client.set_cookie("upwatch_login_csrf", cookie)
    data = {"name": "alice", "password": PASSWORD}
    if field is not None:
        data["csrf_token"] = field
    response = client.post("/admin/login", data=data)
    assert response.status_code == 403, label
    assert client.get_cookie("upwatch_session") is None


def test_login_from_a_foreign_origin_is_refused(module_app: Flask) -> None:
    client = module_app.test_client()
    token = csrf_of(client.get("/admin/login").text)
    response = client.post(
        "/admin/login",
        data={"name": "alice", "password": PASSWORD, "csrf_token": token},
        headers={"Origin": "https://evil.example"},
    )
    assert response.status_code == 403
