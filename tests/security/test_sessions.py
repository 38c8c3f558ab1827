"""Session fixation, revocation, and open redirects after login."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from statuspage.admin.accounts import change_password
from statuspage.storage import accounts as store
from tests.adminkit import PASSWORD, csrf_of, sign_in
from tests.security.conftest import module_db

PLANTED = ["attacker-chosen-value", "x" * 43, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"]


@pytest.mark.parametrize("planted", PLANTED)
def test_login_never_adopts_a_planted_session_id(module_app: Flask, planted: str) -> None:
    client = module_app.test_client()
    client.set_cookie("upwatch_session", planted)
    assert sign_in(client, "alice").status_code == 303
    issued = client.get_cookie("upwatch_session")
    assert issued is not None and issued.value != planted
    attacker = module_app.test_client()
    attacker.set_cookie("upwatch_session", planted)
    assert attacker.get("/admin/").status_code == 303


def test_each_login_gets_a_new_session_and_csrf_token(module_app: Flask) -> None:
    first, second = module_app.test_client(), module_app.test_client()
    sign_in(first, "alice")
    sign_in(second, "alice")
    assert first.get_cookie("upwatch_session").value != second.get_cookie("upwatch_session").value  # type: ignore[union-attr]
    assert csrf_of(first.get("/admin/account").text) != csrf_of(second.get("/admin/account").text)


def test_only_a_hash_of_the_session_token_is_stored(module_app: Flask) -> None:
    client = module_app.test_client()
    sign_in(client, "alice")
    token = client.get_cookie("upwatch_session").value  # type: ignore[union-attr]
    rows = module_db(module_app).execute("SELECT token_hash FROM admin_sessions").fetchall()
    assert all(token not in row[0] for row in rows)


def _revoke_by_logout(app: Flask, victim: Any, db: Any) -> None:
    victim.post("/admin/logout", data={"csrf_token": csrf_of(victim.get("/admin/account").text)})


def _revoke_by_others(app: Flask, victim: Any, db: Any) -> None:
    other = app.test_client()
    sign_in(other, "alice")
    other.post(
        "/admin/account/sessions/revoke-others",
        data={"csrf_token": csrf_of(other.get("/admin/account").text)},
    )


def _revoke_by_password(app: Flask, victim: Any, db: Any) -> None:
    user = store.find_user(db, "alice")
    assert user is not None
    clock = app.config["UPWATCH_CLOCK"]
    change_password(db, user, PASSWORD, PASSWORD + " 2", clock(), keep_session_id=None)
    change_password(db, store.find_user(db, "alice"), PASSWORD + " 2", PASSWORD, clock(), None)  # type: ignore[arg-type]


def _revoke_by_disabling(app: Flask, victim: Any, db: Any) -> None:
    user = store.find_user(db, "alice")
    assert user is not None
    store.set_disabled(db, user.id, app.config["UPWATCH_CLOCK"]())


REVOCATIONS = [_revoke_by_logout, _revoke_by_others, _revoke_by_password, _revoke_by_disabling]


@pytest.mark.parametrize("revoke", REVOCATIONS, ids=lambda f: f.__name__.removeprefix("_revoke_by_"))
def test_revoked_sessions_stop_working_at_once(module_app: Flask, revoke: Any) -> None:
    db = module_db(module_app)
    victim = module_app.test_client()
    sign_in(victim, "alice")
    stolen = victim.get_cookie("upwatch_session").value  # type: ignore[union-attr]
    revoke(module_app, victim, db)
    replay = module_app.test_client()
    replay.set_cookie("upwatch_session", stolen)
    try:
        assert replay.get("/admin/").status_code == 303
        assert replay.post("/admin/logout", data={"csrf_token": "x"}).status_code == 403
    finally:
        user = store.find_user(db, "alice")
        assert user is not None
        store.set_disabled(db, user.id, None)


# (next=, where login must land) — only local /admin/ paths survive.
REDIRECTS = [
    ("/admin/agents", "/admin/agents"),
    ("/admin/incidents/1?notice=x", "/admin/incidents/1?notice=x"),
    ("", "/admin/"),
    ("https://evil.example/", "/admin/"),
    ("//evil.example/", "/admin/"),
    ("///evil.example/", "/admin/"),
    ("/\\evil.example", "/admin/"),
    ("\\\\evil.example", "/admin/"),
    ("http:evil.example", "/admin/"),
    ("javascript:alert(1)", "/admin/"),
    ("data:text/html,<script>alert(1)</script>", "/admin/"),
    ("/admin/\r\nSet-Cookie: x=1", "/admin/"),
    ("/admin/%0d%0aSet-Cookie:x=1", "/admin/%0d%0aSet-Cookie:x=1"),  # stays an encoded local path
    ("https:/\\evil.example", "/admin/"),
    ("/%2F%2Fevil.example", "/admin/"),
    ("/", "/admin/"),
    ("/incidents/1", "/admin/"),
    ("admin/agents", "/admin/"),
    (" //evil.example", "/admin/"),
    ("\t//evil.example", "/admin/"),
    ("/admin@evil.example", "/admin/"),
    ("https://localhost/admin/agents", "/admin/"),
]


@pytest.mark.parametrize(("target", "expected"), REDIRECTS)
def test_next_accepts_local_admin_paths_only(module_app: Flask, target: str, expected: str) -> None:
    response = sign_in(module_app.test_client(), "alice", next=target)
    assert response.status_code == 303
    assert response.headers["Location"] == expected


@pytest.mark.parametrize(("target", "expected"), REDIRECTS[:8])
def test_login_page_echoes_only_a_safe_next(module_app: Flask, target: str, expected: str) -> None:
    page = module_app.test_client().get("/admin/login", query_string={"next": target}).text
    assert f'name="next" value="{expected}"' in page.replace("&amp;", "&").replace("&#34;", '"') or (
        expected == "/admin/" and 'name="next" value="/admin/"' in page
    )
