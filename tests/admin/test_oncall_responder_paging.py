"""End to end through the admin API: an operator made a responder there, given a mail contact
(verified from the link that arrives in a real aiosmtpd mailbox), placed in a schedule made there,
is paged when an incident escalates to that schedule; the acknowledge link in the page's mail
(GET shows a form, POST acts) acknowledges as them and the next level never fires."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask.testing import FlaskClient

from statuspage.oncall import paging, service
from statuspage.settings import Settings
from statuspage.storage import incidents as incident_store
from statuspage.storage import sql
from tests.conftest import FrozenClock
from tests.statuspage.notify.conftest import run_delivery
from tests.statuspage.notify.servers import MailSink, start_smtp
from tests.statuspage.oncall.test_paging_links import ONCALL, escalate, open_incident, pages

Headers = Callable[..., dict[str, str]]
API = "/api/v1/admin/oncall"
LINK = re.compile(r"http://status\.example\.com(/oncall/\S+)")


@pytest.fixture
def mail_sink() -> Iterator[MailSink]:
    sink = MailSink()
    controller, _port = start_smtp(sink)
    yield sink
    controller.stop()


@pytest.fixture
def settings(make_settings: Callable[..., Settings], mail_sink: MailSink) -> Settings:
    # The file pages a schedule it does not declare: it is made in the admin below.
    levels = [{"targets": ["schedule:nights"]}, {"targets": ["user:bob"], "after": "5m"}]
    return make_settings(**{
        **ONCALL,
        "page": {"name": "Test Status", "url": "http://status.example.com"},
        "smtp": {"host": "127.0.0.1", "port": mail_sink.port, "security": "none"},
        "escalation_policies": [{"id": "oncall", "levels": levels}],
    })  # fmt: skip


def _link(mail_sink: MailSink, address: str, word: str) -> str:
    found = [m for m in LINK.findall(mail_sink.to(address)[-1].text()) if word in m]
    assert found, mail_sink.to(address)[-1].text()
    return str(found[0])


def test_an_admin_made_responder_in_an_admin_made_schedule_is_paged(
    client: FlaskClient, api_token: Headers, db: Any, settings: Settings, clock: FrozenClock,
    mail_sink: MailSink, make_user: Callable[..., Any],
) -> None:  # fmt: skip
    make_user("dave")
    write = api_token("write")
    assert client.post(f"{API}/responders", json={"name": "dave"}, headers=write).status_code == 201
    contacts = {"contacts": [{"id": "mail", "kind": "email", "to": "dave@example.test"}], "rules": []}
    assert client.put(f"{API}/responders/dave", json=contacts, headers=write).status_code == 200
    schedule = {"id": "nights", "name": "Nights", "tz": "UTC",
                "layers": [{"name": "base", "responders": ["dave"], "shift": "1w", "start": "2026-11-02"}]}  # fmt: skip
    assert client.post(f"{API}/schedules", json=schedule, headers=write).status_code == 201
    service.check_references(settings)  # what serve, worker and a reload check: all known now

    # Verification: the link arrives by mail; GET shows Confirm, POST confirms.
    with sql.write(db):
        paging.send_verification(db, settings, "dave", "mail", clock())
    run_delivery(settings, clock)
    verify = _link(mail_sink, "dave@example.test", "/oncall/verify/")
    assert b"Confirm" in client.get(verify).data
    assert client.post(verify).status_code == 200
    assert service.verified_contact_ids(db, service.responder(db, settings, "dave")) == {"mail"}  # type: ignore[arg-type]

    incident_id = open_incident(db, clock())
    escalate(db, settings, clock())
    [page] = pages(db, incident_id)
    assert (page.destination_kind, page.destination) == ("responder_email", "dave/mail")
    events = incident_store.events_of(db, incident_id)
    assert [e.data["text"] for e in events if e.kind == "paged"] == ["paged dave (on call for Nights)"]
    run_delivery(settings, clock)
    assert "You are paged: on call for Nights." in mail_sink.to("dave@example.test")[-1].text()

    ack = urlsplit(_link(mail_sink, "dave@example.test", "/oncall/act/")).path
    shown = client.get(ack)
    assert shown.status_code == 200 and b"<form" in shown.data
    assert incident_store.get_incident(db, incident_id).acknowledged_at is None  # type: ignore[union-attr]
    assert client.post(ack).status_code == 200
    incident = incident_store.get_incident(db, incident_id)
    assert incident is not None and incident.acknowledged_by == "user:dave"
    clock.advance(minutes=6)
    assert escalate(db, settings, clock()) == 0  # acknowledged: bob is never paged
    assert [p.destination for p in pages(db, incident_id)] == ["dave/mail"]
