"""Finding 3: five wrong passwords for `victim` from one address locked the victim out
everywhere. Failures now count per (account, address); a browser that signed in before
(device cookie, as OWASP describes) keeps signing in; the per-account limit is a much
higher backstop that only stops clients without a device cookie."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from statuspage.admin.ui import DEVICE_COOKIE
from statuspage.settings import Settings
from tests.adminkit import sign_in

ATTACKER = {"REMOTE_ADDR": "203.0.113.66"}
VICTIM = {"REMOTE_ADDR": "198.51.100.10"}


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(admin={"login_max_failures_per_client": 5, "login_max_failures_per_account": 12})


def fail(client: Any, environ: dict[str, str], name: str = "victim") -> int:
    return int(sign_in(client, name, "wrong password 1", environ_base=environ).status_code)


def test_the_issues_attack_no_longer_locks_the_victim_out(app: Flask, make_user: Callable[..., Any]) -> None:
    make_user("victim")
    attacker = app.test_client()
    assert [fail(attacker, ATTACKER) for _ in range(5)] == [401] * 5
    assert fail(attacker, ATTACKER) == 429  # the attacker's (account, address) is throttled
    assert sign_in(attacker, "victim", environ_base=ATTACKER).status_code == 429
    victim = app.test_client()
    assert sign_in(victim, "victim", environ_base=VICTIM).status_code == 303


def test_a_known_device_signs_in_past_the_account_backstop(app: Flask, make_user: Callable[..., Any]) -> None:
    make_user("victim")
    known = app.test_client()
    first = sign_in(known, "victim", environ_base=VICTIM)
    assert first.status_code == 303
    cookie = known.get_cookie(DEVICE_COOKIE, path="/admin/")
    assert cookie is not None and cookie.http_only and cookie.value.startswith("uwd_")
    assert "SameSite=Strict" in next(h for h in first.headers.getlist("Set-Cookie") if DEVICE_COOKIE in h)
    # The browser closes: the session cookie is gone, the device cookie stays.
    known = app.test_client()
    known.set_cookie(DEVICE_COOKIE, cookie.value, path="/admin/")
    # A distributed attack: many addresses, a few tries each, past the account backstop (12).
    for index in range(12):
        assert fail(app.test_client(), {"REMOTE_ADDR": f"203.0.113.{index}"}) == 401
    stranger = app.test_client()
    assert sign_in(stranger, "victim", environ_base={"REMOTE_ADDR": "192.0.2.200"}).status_code == 429
    # The browser that signed in before still can, even from the attackers' address.
    assert sign_in(known, "victim", environ_base={"REMOTE_ADDR": "203.0.113.1"}).status_code == 303


def test_a_device_cookie_is_throttled_on_its_own_and_bound_to_its_account(
    app: Flask, make_user: Callable[..., Any]
) -> None:
    make_user("victim")
    make_user("other")
    first = app.test_client()
    assert sign_in(first, "victim", environ_base=VICTIM).status_code == 303
    device = first.get_cookie(DEVICE_COOKIE, path="/admin/")
    assert device is not None
    known = app.test_client()  # signed out, holding the device cookie (or a thief holding it)
    known.set_cookie(DEVICE_COOKIE, device.value, path="/admin/")
    # A stolen device cookie does not lift the limits: five failures lock that cookie.
    assert [fail(known, VICTIM) for _ in range(5)] == [401] * 5
    assert sign_in(known, "victim", environ_base=VICTIM).status_code == 429
    # ... and it vouches for its own account only.
    for _ in range(5):
        fail(known, VICTIM, "other")
    assert sign_in(known, "other", environ_base=VICTIM).status_code == 429
    assert sign_in(app.test_client(), "other", environ_base={"REMOTE_ADDR": "192.0.2.9"}).status_code == 303
