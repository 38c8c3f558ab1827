"""The /subscribe form: validation names the field, rate limits per client and per address,
the same answer for known and unknown addresses, nothing stored on bad input."""

from __future__ import annotations

from typing import Any

import pytest

from statuspage.storage import sql
from tests.conftest import FrozenClock
from tests.statuspage.notify.test_email_subscriptions import client_for

pytestmark = pytest.mark.engines("sqlite", "postgresql")


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"email": ""}, "email: enter your email address"),
        ({"email": "not-an-address"}, "email: "),
        ({"email": "a@b"}, "email: "),
        ({"email": "x" * 400 + "@example.com"}, "email: enter your email address"),
        ({"email": "a@example.com\r\nBcc: b@example.com"}, "email: "),
        ({"email": "a@example.com", "components": ["nope"]}, "components: unknown component"),
    ],
)
def test_bad_input_is_400_naming_the_field(
    notify_settings: Any, clock: FrozenClock, form: dict[str, Any], message: str
) -> None:
    settings = notify_settings()
    client = client_for(settings, clock)
    response = client.post("/subscribe", data=form)
    assert response.status_code == 400 and message in response.text
    db = sql.open_store(settings.database)
    assert sql.scalar(db, "SELECT COUNT(*) FROM subscribers") == 0
    assert sql.scalar(db, "SELECT COUNT(*) FROM outbox") == 0


def test_rate_limits_per_client_and_per_email(notify_settings: Any, clock: FrozenClock) -> None:
    settings = notify_settings(subscriptions={"per_client_per_hour": 3, "per_email_per_day": 2})
    client = client_for(settings, clock)
    assert client.post("/subscribe", data={"email": "a@example.com"}).status_code == 202
    assert client.post("/subscribe", data={"email": "A@example.com"}).status_code == 202
    third = client.post("/subscribe", data={"email": "a@example.com"})
    assert third.status_code == 429 and "this address" in third.text
    assert client.post("/subscribe", data={"email": "b@example.com"}).status_code == 202
    blocked = client.post("/subscribe", data={"email": "c@example.com"})
    assert blocked.status_code == 429 and "your address" in blocked.text
    other = client.post(
        "/subscribe", data={"email": "c@example.com"}, environ_base={"REMOTE_ADDR": "127.0.0.9"}
    )
    assert other.status_code == 202
    clock.advance(hours=1, seconds=1)
    assert client.post("/subscribe", data={"email": "d@example.com"}).status_code == 202
    db = sql.open_store(settings.database)
    # a@ and A@ are one subscriber; two confirmation mails were queued for it.
    assert sql.scalar(db, "SELECT COUNT(*) FROM subscribers") == 4
    assert sql.scalar(db, "SELECT COUNT(*) FROM outbox WHERE destination = 'a@example.com'") == 2


def test_form_page_and_bad_links(notify_settings: Any, clock: FrozenClock) -> None:
    client = client_for(notify_settings(), clock)
    page = client.get("/subscribe")
    assert page.status_code == 200 and 'name="email"' in page.text and 'value="api"' in page.text
    assert client.get("/subscribe/confirm/se_nope").status_code == 404
    assert client.post("/subscribe/confirm/se_nope").status_code == 404
    assert client.get("/unsubscribe/se_nope").status_code == 404
    assert client.post("/unsubscribe/sw_nope").status_code == 404
    assert 'href="/subscribe"' in client.get("/").text  # the status page links to it
    disabled = client_for(notify_settings(subscriptions={"email": False, "webhooks": False}), clock)
    assert 'name="email"' not in disabled.get("/subscribe").text
    assert 'href="/subscribe"' not in disabled.get("/").text
    # Without a mail relay there is no email subscription to offer.
    no_relay = client_for(notify_settings(smtp={"host": None}), clock)
    assert (
        'name="email"' not in no_relay.get("/subscribe").text
        and 'name="url"' in no_relay.get("/subscribe").text
    )
    assert no_relay.post("/subscribe", data={"email": "a@example.com"}).status_code == 404
    assert disabled.post("/subscribe", data={"email": "a@example.com"}).status_code == 404


def test_unconfirmed_requests_are_forgotten(notify_settings: Any, clock: FrozenClock) -> None:
    from statuspage.notify.service import prune

    settings = notify_settings()
    client = client_for(settings, clock)
    client.post("/subscribe", data={"email": "late@example.com"})
    client.post("/subscribe/webhook", data={"url": "https://hooks.example.com/x"})
    db = sql.open_store(settings.database)
    prune(db, clock())
    assert sql.scalar(db, "SELECT COUNT(*) FROM subscribers") == 1
    clock.advance(days=2, seconds=1)
    prune(db, clock())
    assert sql.scalar(db, "SELECT COUNT(*) FROM subscribers") == 0
    assert sql.scalar(db, "SELECT status FROM webhook_subscriptions") == "removed"
