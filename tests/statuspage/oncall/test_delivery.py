"""Pages delivered by the worker's real delivery to real receivers on loopback: a mail to aiosmtpd,
a signed webhook and an apprise `json://` message, each with the signed action links; personal
rules wait for their delay."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from statuspage.db import open_store_and_migrate
from statuspage.incident_actions import escalate_due
from statuspage.settings import Settings
from statuspage.storage import incidents as incident_store
from statuspage.storage import oncall as oncall_store
from statuspage.storage import sql
from tests.conftest import FrozenClock
from tests.statuspage.notify.conftest import run_delivery
from tests.statuspage.notify.servers import MailSink, Receiver, start_receiver, start_smtp

pytestmark = pytest.mark.engines("sqlite", "postgresql")

SECRET = "whsec_c2VjcmV0LXNpZ25pbmcta2V5LWZvci1leGFtcGxl"


@pytest.fixture
def mail_sink() -> Iterator[MailSink]:
    sink = MailSink()
    controller, _port = start_smtp(sink)
    yield sink
    controller.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver(secrets={"/ok/bot": SECRET})
    server = start_receiver(found)
    yield found
    server.shutdown()
    server.server_close()


@pytest.fixture
def oncall_settings(
    make_settings: Callable[..., Settings], mail_sink: MailSink, receiver: Receiver
) -> Settings:
    contacts = [
        {"id": "bot", "kind": "webhook", "url": receiver.url("/ok/bot"), "secret": SECRET},
        {"id": "chat", "kind": "apprise", "url": f"json://127.0.0.1:{receiver.port}/ok/chat"},
        {"id": "mail", "kind": "email", "to": "alice@example.test"},
    ]
    rules = [{"contact": "bot"}, {"contact": "chat"}, {"contact": "mail", "after": "2m"}]
    return make_settings(
        page={"name": "Test Status", "url": "http://status.example.com"},
        smtp={"host": "127.0.0.1", "port": mail_sink.port, "security": "none"},
        notify={"request_timeout_s": 2.0},
        responders=[{"name": "alice", "contacts": contacts, "rules": rules}],
        escalation_policies=[{"id": "p", "levels": [{"targets": ["user:alice"]}]}],
    )


def test_pages_reach_every_contact_kind_with_action_links(
    oncall_settings: Settings, mail_sink: MailSink, receiver: Receiver, clock: FrozenClock
) -> None:
    db = open_store_and_migrate(oncall_settings.database)
    try:
        with sql.write(db):
            for contact in ("bot", "chat", "mail"):
                oncall_store.mark_verified(db, "alice", contact, _hash(oncall_settings, contact), clock())
            incident_id = incident_store.insert_incident(
                db, title="API down", impact="major", components={"api": "major_outage"}, body="Looking.",
                actor="engine", now=clock(), escalation_policy="p", next_escalation_at=clock(),
            )  # fmt: skip
            escalate_due(db, oncall_settings, clock())
    finally:
        sql.close(db)

    run_delivery(oncall_settings, clock)
    [hook] = receiver.hits_for("/ok/bot")
    assert hook.signature_ok is True
    payload: dict[str, Any] = hook.json()
    assert payload["type"] == "incident.opened" and payload["responder"] == "alice"
    assert set(payload["actions"]) == {"acknowledge", "resolve", "open"}
    assert payload["actions"]["open"] == f"http://status.example.com/admin/incidents/{incident_id}"
    [chat] = receiver.hits_for("/ok/chat")
    message = json.loads(chat.body)
    assert "API down" in message["title"] and payload["actions"]["acknowledge"] in message["message"]
    assert mail_sink.to("alice@example.test") == []  # the mail rule waits 2 minutes

    clock.advance(minutes=2)
    run_delivery(oncall_settings, clock)
    [mail] = mail_sink.to("alice@example.test")
    assert "You are paged: paged directly." in mail.text()
    assert f"Acknowledge: {payload['actions']['acknowledge']}" in mail.text()  # the same links in every copy
    assert 'href="http://status.example.com/oncall/act/' in mail.html()


def _hash(settings: Settings, contact_id: str) -> str:
    responder = settings.responder("alice")
    assert responder is not None
    contact = responder.contact(contact_id)
    assert contact is not None
    return oncall_store.address_hash(contact.address)


def test_unknown_responder_contact_is_a_permanent_failure(
    oncall_settings: Settings, clock: FrozenClock
) -> None:
    db = open_store_and_migrate(oncall_settings.database)
    try:
        with sql.write(db):
            paging_row = oncall_store.enqueue_page(
                db, event="oncall.verify", destination_kind="responder_email", destination="zoe/mail",
                payload={"title": "t", "body": "b"}, idempotency_key="k1", now=clock(), due_at=clock(),
            )  # fmt: skip
        assert paging_row
        stats = run_delivery(oncall_settings, clock)
        assert stats.failed == 1
        error = sql.scalar(db, "SELECT last_error FROM outbox WHERE idempotency_key = 'k1'")
        assert "no contact 'zoe/mail'" in error
    finally:
        sql.close(db)
