"""Webhooks against a real local receiver: Standard Webhooks signatures; slow, 500 and 410
receivers never delay the good one; retries with backoff; 410 disables; the SSRF guard."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest

from statuspage import incidents
from statuspage.db import open_store_and_migrate
from statuspage.notify import subscriptions
from statuspage.notify.fanout import fan_out
from statuspage.notify.signing import InvalidSignature, new_secret, sign, verify
from statuspage.storage import sql
from tests.conftest import FrozenClock
from tests.statuspage.notify.conftest import run_delivery
from tests.statuspage.notify.servers import Receiver

pytestmark = pytest.mark.engines("sqlite", "postgresql")


def test_signature_round_trip_and_tampering() -> None:
    secret = new_secret()
    body = b'{"type":"incident.created"}'
    now = int(time.time())
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(now),
        "webhook-signature": sign(secret, "msg_1", now, body),
    }
    verify(secret, headers, body)
    assert headers["webhook-signature"].startswith("v1,")
    for changed in (
        {**headers, "webhook-id": "msg_2"},
        {**headers, "webhook-timestamp": str(now - 600)},
        {k: v for k, v in headers.items() if k != "webhook-signature"},
    ):
        with pytest.raises(InvalidSignature):
            verify(secret, changed, body)
    with pytest.raises(InvalidSignature):
        verify(secret, headers, body + b" ")
    with pytest.raises(InvalidSignature):
        verify(new_secret(), headers, body)


def test_slow_failing_and_gone_receivers_do_not_delay_the_good_one(
    notify_settings: Any, receiver: Receiver, clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    settings = notify_settings()
    db = open_store_and_migrate(settings.database)
    ids = {}
    for path in ("/slow", "/fail", "/gone", "/ok"):
        ids[path], receiver.secrets[path] = subscriptions.create_webhook_subscription(
            db, settings, receiver.url(path), [], clock()
        )
    incident_id = incidents.create_incident(
        db,
        settings,
        title="API down",
        body="Looking",
        actor="ops",
        now=clock(),
        components={"api": "major_outage"},
    )
    assert fan_out(db, settings, clock()) == 4
    started = time.monotonic()
    with caplog.at_level(logging.WARNING):
        stats = run_delivery(settings, clock)
    [good] = receiver.hits_for("/ok")
    [slow_hit] = receiver.hits_for("/slow")
    # On time: the good receiver had its message before the slow one's 1 s timeout ran out
    # (both were sent in the same claim), not after waiting for it.
    assert good.at < slow_hit.at + 1.0
    assert good.at - started < 5
    assert good.signature_ok is True
    payload = good.json()
    assert payload["type"] == "incident.created"
    assert payload["incident"]["id"] == str(incident_id)
    assert payload["incident"]["name"] == "API down"
    assert payload["incident"]["incident_updates"][0]["body"] == "Looking"
    assert payload["incident"]["components"] == [
        {"id": "api", "name": "Public API", "status": "major_outage"}
    ]
    assert payload["meta"]["unsubscribe"].startswith("http://status.example.com/unsubscribe/sw_")
    assert good.headers["webhook-id"] == f"subscriber_webhook:{ids['/ok']}:incident_update:1"
    assert all(h.signature_ok for h in receiver.hits)
    assert (stats.delivered, stats.retried, stats.failed) == (1, 2, 1)

    rows = {
        r[0]: r[1:]
        for r in sql.tuples(
            db, "SELECT destination, attempts, last_error, next_attempt_at, failed_at FROM outbox"
        )
    }
    slow = rows[str(ids["/slow"])]
    assert slow[0] == 1 and "no response within 1s" in slow[1]
    fail = rows[str(ids["/fail"])]
    assert fail[1] == "HTTP 500" and fail[2] > "2026-11-27T12:00:30" and fail[2] < "2026-11-27T12:00:34"
    gone = rows[str(ids["/gone"])]
    assert gone[3] is not None and "410" in gone[1]
    status = sql.scalar(db, "SELECT status FROM webhook_subscriptions WHERE id = :id", {"id": ids["/gone"]})
    assert status == "disabled"
    assert sql.tuples(db, "SELECT kind FROM operator_notices") == [("destination_disabled",)]
    assert "notification destination disabled" in caplog.text

    # Before the backoff nothing is retried; after it, the recovered receiver gets the same message id.
    receiver.secrets.pop("/slow")
    receiver.release.set()
    assert run_delivery(settings, clock).delivered == 0
    clock.advance(seconds=40)
    stats = run_delivery(settings, clock)
    assert stats.delivered == 1 and stats.retried == 1  # slow now answers; /fail still fails
    assert len(receiver.hits_for("/slow")) == 2
    assert len({h.headers["webhook-id"] for h in receiver.hits_for("/slow")}) == 1
    fail_attempts = sql.tuples(
        db, "SELECT attempts, next_attempt_at FROM outbox WHERE destination = :d", {"d": str(ids["/fail"])}
    )[0]
    assert fail_attempts[0] == 2 and fail_attempts[1] > "2026-11-27T12:01:40"  # doubled: ~60 s
    sql.close(db)


def test_destination_failing_for_long_is_disabled(
    notify_settings: Any, receiver: Receiver, clock: FrozenClock
) -> None:
    settings = notify_settings(
        notify={"request_timeout_s": 1, "backoff_base_s": 10, "disable_after_s": 60, "max_attempts": 50}
    )
    db = open_store_and_migrate(settings.database)
    webhook_id, _secret = subscriptions.create_webhook_subscription(
        db, settings, receiver.url("/fail"), [], clock()
    )
    incidents.create_incident(db, settings, title="One", body="b", actor="ops", now=clock())
    fan_out(db, settings, clock())
    for _ in range(4):
        run_delivery(settings, clock)
        clock.advance(seconds=45)
    row = sql.tuples(db, "SELECT failed_at, last_error FROM outbox")[0]
    assert row[0] is not None and "destination disabled" in row[1]
    assert sql.scalar(db, "SELECT status FROM webhook_subscriptions") == "disabled"
    notice = sql.tuples(db, "SELECT subject, message FROM operator_notices")[0]
    assert f"subscriber_webhook destination {webhook_id} disabled" == notice[0]
    # Disabled: later incidents do not even queue for it ... until an operator enables it again.
    incidents.create_incident(db, settings, title="Two", body="b", actor="ops", now=clock())
    assert fan_out(db, settings, clock()) == 0
    assert subscriptions.enable_webhook(db, webhook_id) and not subscriptions.enable_webhook(db, webhook_id)
    incidents.create_incident(db, settings, title="Three", body="b", actor="ops", now=clock())
    assert fan_out(db, settings, clock()) == 1
    sql.close(db)


def test_self_service_webhook_is_verified_first_and_ssrf_guarded(
    notify_settings: Any, receiver: Receiver, clock: FrozenClock
) -> None:
    from tests.statuspage.notify.test_email_subscriptions import client_for

    # Loopback allowed explicitly (test config only): verification flow.
    settings = notify_settings(security={"outbound_allow": ["127.0.0.0/8"]})
    client = client_for(settings, clock)
    response = client.post(
        "/subscribe/webhook", data={"url": receiver.url("/ok/self"), "components": ["api"]}
    )
    assert response.status_code == 202
    secret = response.text.split('class="secret">')[1].split("<")[0]
    receiver.secrets["/ok/self"] = secret
    db = open_store_and_migrate(settings.database)
    incidents.create_incident(
        db, settings, title="Before", body="b", actor="ops", now=clock(), components={"api": "major_outage"}
    )
    fan_out(db, settings, clock())  # pending: nothing but the verification
    run_delivery(settings, clock)
    [verification] = receiver.hits_for("/ok/self")
    assert verification.signature_ok and verification.json()["type"] == "subscription.verify"
    verify_path = verification.json()["verify_url"].removeprefix("http://status.example.com")
    assert client.post(verify_path).status_code == 200
    incidents.create_incident(
        db, settings, title="After", body="b", actor="ops", now=clock(), components={"api": "major_outage"}
    )
    fan_out(db, settings, clock())
    run_delivery(settings, clock)
    assert [h.json()["incident"]["name"] for h in receiver.hits_for("/ok/self")[1:]] == ["After"]

    # Without the exemption: literal private addresses are refused by the form ...
    strict = notify_settings()
    strict_client = client_for(strict, clock)
    for url in (
        "http://127.0.0.1/x",
        "http://[::ffff:127.0.0.1]/",
        "http://2130706433/",
        "http://169.254.169.254/",
        "ftp://example.com/",
    ):
        refused = strict_client.post("/subscribe/webhook", data={"url": url})
        assert refused.status_code == 400 and "url:" in refused.text, url
    # ... and a stored one (a name may resolve anywhere) is refused at connect time.
    webhook_id, _ = subscriptions.create_webhook_subscription(
        db, strict, f"http://localhost:{receiver.port}/ok/ssrf", [], clock(), origin="self"
    )
    before = len(receiver.hits)
    stats = run_delivery(strict, clock)
    assert stats.failed == 1 and len(receiver.hits) == before
    error = sql.scalar(db, "SELECT last_error FROM outbox WHERE destination = :d", {"d": str(webhook_id)})
    assert "refusing to connect" in error
    sql.close(db)


def test_documented_verification_example_accepts_our_signatures() -> None:
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[3] / "docs" / "notifications.md").read_text()
    code = doc.split("### Verifying a webhook")[1].split("```python\n")[1].split("```")[0]
    namespace: dict[str, Any] = {}
    exec(code, namespace)  # noqa: S102 - our own documentation
    secret, body, now = new_secret(), b'{"type":"incident.updated"}', int(time.time())
    headers = {
        "webhook-id": "m1",
        "webhook-timestamp": str(now),
        "webhook-signature": sign(secret, "m1", now, body),
    }
    assert namespace["verify"](secret, headers, body) is True
    assert namespace["verify"](secret, headers, body + b"x") is False
