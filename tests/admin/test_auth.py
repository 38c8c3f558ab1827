"""Sign-in: passwords, TOTP, rate limits per account and per address, sessions, fail-closed config."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyotp
import pytest
from flask import Flask

from statuspage import create_app
from statuspage.admin.accounts import AccountError, create_user
from statuspage.settings import ConfigError, Settings
from statuspage.storage import accounts as store
from tests.adminkit import PASSWORD, Operator, csrf_of, sign_in
from tests.helpers import BIN


def test_login_sets_a_hardened_cookie_and_lands_on_next(app: Flask, make_user: Callable[..., Any]) -> None:
    make_user("alice")
    client = app.test_client()
    response = sign_in(client, "alice", next="/admin/agents")
    assert response.status_code == 303
    assert response.headers["Location"] == "/admin/agents"
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("upwatch_session="))
    for flag in ("HttpOnly", "SameSite=Strict", "Path=/"):
        assert flag in cookie
    assert client.get("/admin/agents").status_code == 200


def test_https_site_uses_a_secure_host_cookie(
    make_settings: Callable[..., Settings], db: Any, clock: Any
) -> None:
    app = create_app(make_settings(page={"name": "S", "url": "https://status.example"}))
    app.config["UPWATCH_CLOCK"] = clock
    create_user(db, "alice", PASSWORD, clock())
    client = app.test_client()
    response = sign_in(client, "alice")
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if "upwatch_session=" in c)
    assert cookie.startswith("__Host-upwatch_session=") and "Secure" in cookie


BAD_LOGINS = [
    ("alice", "wrong password here"),
    ("alice", ""),
    ("nobody", PASSWORD),
    ("ALICE", PASSWORD),
    ("alice ", PASSWORD),
    ("alice' OR '1'='1", PASSWORD),
    ("alice", PASSWORD + "x"),
    ("alice", "x" * 5000),
]


@pytest.mark.parametrize(("name", "password"), BAD_LOGINS)
def test_wrong_credentials_are_refused(
    app: Flask, make_user: Callable[..., Any], name: str, password: str
) -> None:
    make_user("alice")
    client = app.test_client()
    response = sign_in(client, name, password)
    assert response.status_code == 401
    assert "Wrong name, password or code." in response.text
    assert client.get("/admin/").status_code == 303


def test_account_rate_limit_then_window_passes(app: Flask, make_user: Callable[..., Any], clock: Any) -> None:
    make_user("alice")
    client = app.test_client()
    for _ in range(5):
        assert sign_in(client, "alice", "wrong password 1").status_code == 401
    # Even the right password is refused while the account is locked.
    assert sign_in(client, "alice").status_code == 429
    clock.advance(minutes=16)
    assert sign_in(client, "alice").status_code == 303


def test_address_rate_limit_spans_accounts(app: Flask, make_user: Callable[..., Any]) -> None:
    make_user("alice")
    client = app.test_client()
    for index in range(20):
        assert sign_in(client, f"guess{index}", "wrong password 1").status_code == 401
    assert sign_in(client, "alice").status_code == 429
    other = app.test_client()
    ok = sign_in(other, "alice", environ_base={"REMOTE_ADDR": "198.51.100.9"})
    assert ok.status_code == 303


def test_forwarded_for_is_ignored_from_an_untrusted_peer(app: Flask, make_user: Callable[..., Any]) -> None:
    """Rotating X-Forwarded-For does not dodge the per-address limit when no proxy is trusted."""
    make_user("alice")
    client = app.test_client()
    for index in range(20):
        headers = {"X-Forwarded-For": f"203.0.113.{index}"}
        token = csrf_of(client.get("/admin/login").text)
        client.post("/admin/login", data={"name": f"g{index}", "password": "x" * 12, "csrf_token": token},
                    headers=headers)  # fmt: skip
    assert sign_in(client, "alice", headers={"X-Forwarded-For": "192.0.2.1"}).status_code == 429


def test_forwarded_for_is_believed_from_the_trusted_proxy(
    make_settings: Callable[..., Settings], db: Any, clock: Any
) -> None:
    app = create_app(make_settings(security={"trusted_proxies": ["127.0.0.1"]}))
    app.config["UPWATCH_CLOCK"] = clock
    create_user(db, "alice", PASSWORD, clock())
    client = app.test_client()
    for index in range(20):
        token = csrf_of(client.get("/admin/login").text)
        client.post("/admin/login", data={"name": f"g{index}", "password": "x" * 12, "csrf_token": token},
                    headers={"X-Forwarded-For": "203.0.113.7"})  # fmt: skip
    assert sign_in(client, "alice", headers={"X-Forwarded-For": "203.0.113.7"}).status_code == 429
    assert sign_in(client, "alice", headers={"X-Forwarded-For": "203.0.113.8"}).status_code == 303


def test_totp_second_factor(app: Flask, make_user: Callable[..., Any], clock: Any) -> None:
    user = make_user("alice", totp=True)
    totp = pyotp.TOTP(user.totp_secret)
    client = app.test_client()
    assert sign_in(client, "alice").status_code == 401
    assert sign_in(client, "alice", code="000000").status_code == 401
    code = totp.at(clock())
    assert sign_in(client, "alice", code=code).status_code == 303
    # The same code again (replay) is refused, even within its 30 s; the next one works.
    assert sign_in(app.test_client(), "alice", code=code).status_code == 401
    clock.advance(seconds=30)
    assert sign_in(app.test_client(), "alice", code=totp.at(clock())).status_code == 303


def test_required_totp_refuses_accounts_without_it(
    make_settings: Callable[..., Settings], db: Any, clock: Any
) -> None:
    app = create_app(make_settings(admin={"require_totp": True}))
    app.config["UPWATCH_CLOCK"] = clock
    create_user(db, "alice", PASSWORD, clock())
    response = sign_in(app.test_client(), "alice")
    assert response.status_code == 403 and "second factor" in response.text


def test_password_change_ends_the_other_sessions(app: Flask, operator: Operator) -> None:
    laptop = app.test_client()
    assert sign_in(laptop, "alice").status_code == 303
    assert laptop.get("/admin/").status_code == 200
    new_password = "a whole new passphrase 42"
    response = operator.post(
        "/admin/account/password", {"current_password": PASSWORD, "new_password": new_password}
    )
    assert response.status_code == 303
    assert operator.client.get("/admin/").status_code == 200  # this session stays
    assert laptop.get("/admin/").status_code == 303  # the other one is gone
    assert sign_in(app.test_client(), "alice").status_code == 401
    assert sign_in(app.test_client(), "alice", new_password).status_code == 303


@pytest.mark.parametrize(
    ("current", "new", "message"),
    [
        ("wrong current pw", "a whole new passphrase", "current_password"),
        (PASSWORD, "short", "at least 12"),
        (PASSWORD, "alice-alice-alice", "account name"),
        (PASSWORD, "aaaaaaaaaaaaaaaa", "repetitive"),
        (PASSWORD, PASSWORD, "differ"),
    ],
)
def test_password_change_refusals(operator: Operator, current: str, new: str, message: str) -> None:
    response = operator.post("/admin/account/password", {"current_password": current, "new_password": new})
    assert response.status_code == 422 and message in response.text


def test_sessions_expire_when_idle_and_at_max_age(operator: Operator, clock: Any) -> None:
    clock.advance(minutes=59)
    assert operator.client.get("/admin/").status_code == 200
    clock.advance(minutes=61)
    assert operator.client.get("/admin/").status_code == 303


def test_max_age_ends_even_a_busy_session(operator: Operator, clock: Any) -> None:
    for _ in range(14):  # 12 h 50 min, never idle for an hour
        clock.advance(minutes=55)
        status = operator.client.get("/admin/").status_code
    assert status == 303


def test_logout_revokes_server_side(app: Flask, operator: Operator) -> None:
    cookie = operator.client.get_cookie("upwatch_session")
    assert cookie is not None
    assert operator.post("/admin/logout").status_code == 303
    replay = app.test_client()
    replay.set_cookie("upwatch_session", cookie.value)
    assert replay.get("/admin/").status_code == 303


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"admin": {"session_idle_timeout": "2d"}}, "session_idle_timeout"),
        ({"admin": {"session_max_age": "90d", "session_idle_timeout": "1h"}}, "session_max_age"),
        ({"admin": {"login_failure_window": "1s"}}, "login_failure_window"),
        ({"admin": {"login_max_failures_per_account": 0}}, "login_max_failures_per_account"),
        ({"admin": {"require_totp": "maybe"}}, "require_totp"),
        ({"admin": {"cookie_secure": False}, "page": {"url": "https://s.example"}}, "cookie_secure"),
        ({"admin": {"unknown_key": 1}}, "unknown_key"),
        ({"security": {"trusted_proxies": ["proxy.example"]}}, "trusted_proxies"),
        ({"security": {"outbound_allow": ["10.0.0.0/33"]}}, "outbound_allow"),
        ({"security": {"hsts_max_age": -1}}, "hsts_max_age"),
    ],
)
def test_half_valid_auth_config_refuses_to_start(
    make_settings: Callable[..., Settings], overrides: dict[str, Any], key: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        make_settings(**overrides)
    assert key in str(caught.value)


@pytest.mark.parametrize(
    ("name", "password"),
    [("", PASSWORD), ("a b", PASSWORD), ("-x", PASSWORD), ("x" * 65, PASSWORD), ("bob", "short")],
)
def test_create_user_refusals(db: Any, clock: Any, name: str, password: str) -> None:
    with pytest.raises(AccountError):
        create_user(db, name, password, clock())


def test_cli_user_create_stores_only_an_argon2_hash(tmp_path: Path) -> None:
    database = tmp_path / "cli.db"
    env = {"UPWATCH_DATABASE": str(database), "PATH": "/usr/bin:/bin"}
    command = [str(BIN / "upwatch-statuspage"), "user", "create", "carol", "--password-stdin", "--totp"]
    done = subprocess.run(command, input=PASSWORD + "\n", env=env, capture_output=True, text=True, timeout=60)  # noqa: S603
    assert done.returncode == 0, done.stderr
    assert "otpauth://totp/upwatch:carol" in done.stdout
    again = subprocess.run(
        command, input=PASSWORD + "\n", env=env, capture_output=True, text=True, timeout=60
    )  # noqa: S603
    assert again.returncode == 1 and "exists" in again.stderr
    weak = [str(BIN / "upwatch-statuspage"), "user", "create", "dave", "--password-stdin"]
    refused = subprocess.run(weak, input="short\n", env=env, capture_output=True, text=True, timeout=60)  # noqa: S603
    assert refused.returncode == 2 and "password" in refused.stderr
    from statuspage.db import connect

    db = connect(database)
    user = store.find_user(db, "carol")
    assert user is not None and user.password_hash.startswith("$argon2id$")
    assert PASSWORD.encode() not in database.read_bytes()
    db.conn.close()
