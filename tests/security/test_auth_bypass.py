"""Auth bypass attempts on every admin route, enumerated from the url_map (new routes are covered)."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from statuspage import create_app
from statuspage.settings import load_settings
from tests.adminkit import routes
from tests.conftest import BASE_CONFIG
from tests.security.conftest import bearer

# Build the route list once at collection time from a throwaway app (no database needed for the map).
_APP = create_app(load_settings(environ={}, **{**BASE_CONFIG, "database": ":memory:"}))
UI_ROUTES = [r for r in routes(_APP, "/admin") if r[2] not in ("admin.login",)]
API_ROUTES = routes(_APP, "/api/v1/admin")

# Cookies and headers an attacker may try instead of a real session or token.
FORGED_COOKIES = [
    None,
    "",
    "x",
    "' OR 1=1 --",
    "a" * 3000,
    "../../etc/passwd",
    "null",
    "eyJhbGciOiJub25lIn0.eyJ1c2VyIjoiYWxpY2UifQ.",
]
FORGED_AUTH = [
    None,
    "Bearer",
    "Bearer ",
    "Bearer null",
    "Bearer uwt_",
    "Bearer uwt_" + "A" * 43,
    "Basic YWxpY2U6cGFzc3dvcmQ=",
    "bearer ' OR '1'='1",
    "Bearer " + "x" * 5000,
    "Token uwt_abc",
]


@pytest.mark.parametrize(("method", "url", "endpoint"), UI_ROUTES)
def test_ui_route_needs_a_session(module_app: Flask, method: str, url: str, endpoint: str) -> None:
    client = module_app.test_client()
    for cookie in FORGED_COOKIES:
        if cookie is not None:
            client.set_cookie("upwatch_session", cookie)
            client.set_cookie("__Host-upwatch_session", cookie)
        response = client.open(url, method=method, data={"csrf_token": "x"})
        client.delete_cookie("upwatch_session")
        client.delete_cookie("__Host-upwatch_session")
        if method == "GET":
            assert response.status_code == 303, (url, cookie)
            assert response.headers["Location"].startswith("/admin/login")
        else:
            assert response.status_code == 403, (url, cookie)


@pytest.mark.parametrize(("method", "url", "endpoint"), API_ROUTES)
def test_api_route_needs_a_token(module_app: Flask, method: str, url: str, endpoint: str) -> None:
    client = module_app.test_client()
    for header in FORGED_AUTH:
        headers = {"Authorization": header} if header is not None else {}
        response = client.open(url, method=method, headers=headers, json={})
        assert response.status_code == 401, (url, header)
    # Tokens never count in the query string or a cookie.
    assert client.open(url + "?token=uwt_x&access_token=uwt_x", method=method).status_code == 401


@pytest.mark.parametrize(("method", "url", "endpoint"), [r for r in API_ROUTES if r[0] != "GET"])
def test_read_token_cannot_change_anything(module_app: Flask, method: str, url: str, endpoint: str) -> None:
    response = module_app.test_client().open(url, method=method, headers=bearer(module_app, "read"), json={})
    assert response.status_code == 403, url


def test_an_agent_token_is_not_an_admin_token(app: Flask, agent_token: Any) -> None:
    token = agent_token()
    response = app.test_client().get("/api/v1/admin/incidents", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


# Path spellings that must not reach an admin page without a session.
PATH_TRICKS = [
    "/admin",
    "/admin/",
    "//admin/",
    "/admin//incidents",
    "/admin/./incidents",
    "/admin/../admin/incidents",
    "/admin/%2e%2e/admin/incidents",
    "/ADMIN/",
    "/admin/incidents/",
    "/admin/incidents;jsessionid=1",
    "/admin/static/../incidents",
    "/admin/static/%2e%2e/incidents",
    "/api/v1/admin",
    "/api/v1/admin/",
    "/api/v1//admin/incidents",
    "/api/v1/admin/./incidents",
    "/api/v1/ADMIN/incidents",
]


@pytest.mark.parametrize("path", PATH_TRICKS)
def test_path_tricks_do_not_bypass(module_app: Flask, path: str) -> None:
    client = module_app.test_client()
    response = client.get(path, follow_redirects=True)
    # Whatever page answers (login, 404, 401, or the public page for "//admin/", which the
    # client reads as host "admin"), it is never an admin page.
    assert response.status_code in (200, 401, 404), (path, response.status_code)
    assert b"Sign out" not in response.data and b"Checks per location" not in response.data
