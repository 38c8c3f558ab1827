"""Email subscriptions end to end against a real SMTP server (aiosmtpd): double opt-in,
incident mail with threading and unsubscribe headers, one-click unsubscribe, filters."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask.testing import FlaskClient

from statuspage import create_app, incidents
from statuspage.notify.fanout import fan_out
from statuspage.settings import Settings
from statuspage.storage import maintenance, sql
from tests.conftest import FrozenClock
from tests.statuspage.notify.conftest import run_delivery
from tests.statuspage.notify.servers import MailSink

pytestmark = pytest.mark.engines("sqlite", "postgresql")

LINK_RE = re.compile(r"http://status\.example\.com(/\S+)")


def client_for(settings: Settings, clock: FrozenClock) -> FlaskClient:
    app = create_app(settings)
    app.config["UPWATCH_CLOCK"] = clock
    app.config["TESTING"] = True
    return app.test_client()


def subscribe_and_confirm(
    client: FlaskClient, settings: Settings, clock: FrozenClock, sink: MailSink, address: str, **form: Any
) -> None:
    response = client.post("/subscribe", data={"email": address, **form})
    assert response.status_code == 202, response.text
    run_delivery(settings, clock)
    [mail] = sink.to(address)
    assert mail.message["Subject"] == "[Test Status] Confirm your subscription"
    path = LINK_RE.search(mail.text()).group(1)  # type: ignore[union-attr]
    assert path.startswith("/subscribe/confirm/")
    page = client.get(path)
    assert page.status_code == 200 and "<button" in page.text  # GET shows a button only
    assert client.post(path).status_code == 200


def test_double_opt_in_incident_threading_and_unsubscribe(
    notify_settings: Any, mail_sink: MailSink, clock: FrozenClock
) -> None:
    settings = notify_settings()
    client = client_for(settings, clock)
    db = sql.open_store(settings.database)
    address = "alice@example.com"

    client.post("/subscribe", data={"email": address})
    run_delivery(settings, clock)
    [confirmation] = mail_sink.to(address)
    # Nothing from the form is echoed into the mail (not even the address).
    assert address not in confirmation.text() and address not in confirmation.html()
    # Before confirming, incidents send nothing.
    first = incidents.create_incident(db, settings, title="Early", body="x", actor="ops", now=clock())
    fan_out(db, settings, clock())
    run_delivery(settings, clock)
    assert len(mail_sink.to(address)) == 1
    incidents.resolve(db, first, "ops", clock())

    path = LINK_RE.search(confirmation.text()).group(1)  # type: ignore[union-attr]
    assert client.post(path).status_code == 200
    assert client.post(path).status_code == 404  # a confirm link works once

    clock.advance(minutes=5)
    incident_id = incidents.create_incident(
        db,
        settings,
        title="API errors\r\nBcc: victim@example.com",
        body="We see {{ 7 * 7 }} errors <script>alert(1)</script>",
        actor="ops",
        now=clock(),
        components={"api": "major_outage"},
    )
    fan_out(db, settings, clock())
    run_delivery(settings, clock)
    opened = mail_sink.to(address)[-1]
    message = opened.message
    assert message["Subject"] == "[Test Status] API errors Bcc: victim@example.com"
    assert message["Bcc"] is None
    root = f"<incident-{incident_id}@status.example.com>"
    assert message["Message-ID"] == root
    assert message["In-Reply-To"] is None
    unsubscribe = str(message["List-Unsubscribe"]).strip()  # long: folded onto its own line
    assert unsubscribe.startswith("<http://status.example.com/unsubscribe/se_")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message.get_content_type() == "multipart/alternative"
    # Incident text is data, never template code; HTML is escaped.
    # (checked on the sentence: the random unsubscribe token may contain "49" by chance)
    assert "We see {{ 7 * 7 }} errors" in opened.text() and "We see 49 errors" not in opened.text()
    assert "&lt;script&gt;" in opened.html() and "<script>" not in opened.html()
    assert "Public API: Major outage" in opened.text()

    clock.advance(minutes=5)
    update_id = incidents.post_update(db, incident_id, "identified", "Found it", "ops", clock())
    fan_out(db, settings, clock())
    run_delivery(settings, clock)
    followup = mail_sink.to(address)[-1].message
    assert followup["Message-ID"] == f"<incident-{incident_id}.{update_id}@status.example.com>"
    assert followup["In-Reply-To"] == root and followup["References"] == root
    assert followup["Subject"] == message["Subject"]  # same subject: one thread everywhere

    # One-click unsubscribe (RFC 8058) stops further mail, including what is queued.
    link = unsubscribe.strip("<>").removeprefix("http://status.example.com")
    assert "<button" in client.get(link).text
    response = client.post(link, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    count = len(mail_sink.to(address))
    incidents.resolve(db, incident_id, "ops", clock())
    fan_out(db, settings, clock())
    run_delivery(settings, clock)
    assert len(mail_sink.to(address)) == count
    sql.close(db)


def test_component_filter_private_and_drill(
    notify_settings: Any, mail_sink: MailSink, clock: FrozenClock
) -> None:
    settings = notify_settings()
    client = client_for(settings, clock)
    subscribe_and_confirm(client, settings, clock, mail_sink, "web@example.com", components=["web"])
    subscribe_and_confirm(client, settings, clock, mail_sink, "all@example.com")
    db = sql.open_store(settings.database)
    incidents.create_incident(
        db,
        settings,
        title="API slow",
        body="b",
        actor="ops",
        now=clock(),
        components={"api": "degraded_performance"},
    )
    incidents.create_incident(
        db,
        settings,
        title="Website down",
        body="b",
        actor="ops",
        now=clock(),
        components={"web": "major_outage"},
    )
    incidents.create_incident(db, settings, title="Secret", body="b", actor="ops", now=clock(), public=False)
    drill_id = sql.insert_returning_id(
        db,
        "INSERT INTO incidents (title, status, created_at, updated_at, drill) VALUES ('Drill', 'investigating', 'x', 'x', 1) RETURNING id",
    )
    sql.run(
        db,
        "INSERT INTO incident_updates (incident_id, status, body, created_at, actor) VALUES (:id, 'investigating', 'drill', 'x', 'ops')",
        {"id": drill_id},
    )
    assert fan_out(db, settings, clock()) == 3  # api -> all; web -> both
    assert fan_out(db, settings, clock()) == 0  # the watermark holds
    run_delivery(settings, clock)
    subjects = {
        a: [m.message["Subject"] for m in mail_sink.to(a)[1:]] for a in ("web@example.com", "all@example.com")
    }
    assert subjects["web@example.com"] == ["[Test Status] Website down"]
    assert sorted(subjects["all@example.com"]) == ["[Test Status] API slow", "[Test Status] Website down"]
    # Copies of one update are built once and filled in per subscriber: each has its own
    # To, unsubscribe header and the same link in both bodies.
    links = set()
    for address in ("web@example.com", "all@example.com"):
        [mail] = [m for m in mail_sink.to(address) if m.message["Subject"] == "[Test Status] Website down"]
        header = str(mail.message["List-Unsubscribe"]).strip().strip("<>")
        assert mail.message["To"] == address and mail.message["Date"]
        assert header in mail.text() and header in mail.html() and "slot" not in mail.text() + header
        links.add(header)
    assert len(links) == 2
    sql.close(db)


def test_maintenance_states_are_mailed_once(
    notify_settings: Any, mail_sink: MailSink, clock: FrozenClock
) -> None:
    settings = notify_settings()
    client = client_for(settings, clock)
    subscribe_and_confirm(client, settings, clock, mail_sink, "ops@example.com")
    db = sql.open_store(settings.database)
    start, end = clock.now.replace(hour=22), clock.now.replace(hour=23)
    mid = maintenance.insert_maintenance(
        db,
        title="DB upgrade",
        body="Short pause",
        scheduled_for=start,
        scheduled_until=end,
        components=["api"],
        now=clock(),
    )
    fan_out(db, settings, clock())
    clock.advance(hours=10, minutes=1)
    maintenance.start_due(db, clock())
    fan_out(db, settings, clock())
    fan_out(db, settings, clock())
    run_delivery(settings, clock)
    mails = [m.message for m in mail_sink.to("ops@example.com")[1:]]
    assert [m["Subject"] for m in mails] == ["[Test Status] Maintenance: DB upgrade"] * 2
    assert mails[0]["Message-ID"] == f"<maintenance-{mid}@status.example.com>"
    assert mails[1]["In-Reply-To"] == mails[0]["Message-ID"]
    assert "In progress" in mails[1].get_body(preferencelist=("plain",)).get_content()
    sql.close(db)


def test_rejected_recipient_is_permanent_and_bounces(
    notify_settings: Any, mail_sink: MailSink, clock: FrozenClock
) -> None:
    settings = notify_settings()
    client = client_for(settings, clock)
    mail_sink.reject.add("nobody@example.com")
    client.post("/subscribe", data={"email": "nobody@example.com"})
    stats = run_delivery(settings, clock)
    assert (stats.delivered, stats.failed, stats.retried) == (0, 1, 0)
    db = sql.open_store(settings.database)
    row = sql.tuples(db, "SELECT attempts, last_error, failed_at FROM outbox")[0]
    assert row[0] == 1 and "550" in row[1] and row[2] is not None
    notice = sql.tuples(db, "SELECT kind, subject FROM operator_notices")[0]
    assert notice[0] == "destination_disabled" and "nobody" not in notice[1]  # personal data stays out
    sql.close(db)
