"""Escalation to schedules and people, verified contacts, signed action links and their refusals.

The app on a real SQLite file with the injected clock; escalation runs the
worker's function (`escalate_due`), pages are read from the outbox. Every bad
input case checks that nothing changed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask.testing import FlaskClient

from statuspage.incident_actions import escalate_due
from statuspage.oncall import paging, service
from statuspage.settings import ConfigError, Settings
from statuspage.storage import audit, sql
from statuspage.storage import incidents as incident_store
from statuspage.storage import oncall as oncall_store
from statuspage.storage.outbox import list_outbox
from tests.conftest import FrozenClock

pytestmark = pytest.mark.engines("sqlite", "postgresql")

ONCALL: dict[str, Any] = {
    "channels": [{"id": "ops-log", "kind": "log"}],
    "responders": [
        {"name": "alice", "contacts": [{"id": "mail", "kind": "email", "to": "alice@example.test"}]},
        {
            "name": "bob",
            "display_name": "Bob B.",
            "contacts": [
                {"id": "mail", "kind": "email", "to": "bob@example.test"},
                {"id": "hook", "kind": "webhook", "url": "http://127.0.0.1:9/hook"},
            ],
            "rules": [{"contact": "hook"}, {"contact": "mail", "after": "2m"}],
        },
        {"name": "carol", "contacts": []},
    ],
    "schedules": [
        {
            "id": "primary",
            "name": "Primary",
            "tz": "Europe/Berlin",
            "layers": [
                {"name": "weekly", "responders": ["alice", "bob"], "shift": "1w", "start": "2026-11-23"}
            ],
        }
    ],
    "escalation_policies": [
        {
            "id": "oncall",
            "levels": [
                {"targets": ["schedule:primary"]},
                {"targets": ["user:bob", "channel:ops-log"], "after": "5m"},
            ],
        }
    ],
}


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(**ONCALL)


def verify(client: FlaskClient, db: Any, settings: Settings, name: str, contact: str, now: datetime) -> None:
    with sql.write(db):
        url = paging.send_verification(db, settings, name, contact, now)
    path = urlsplit(url).path
    page = client.get(path)
    assert page.status_code == 200 and b"Confirm" in page.data
    assert service.verified_contact_ids(db, settings.responder(name)) == set() or contact not in (
        service.verified_contact_ids(db, settings.responder(name))  # type: ignore[arg-type]
    )
    confirmed = client.post(path)
    assert confirmed.status_code == 200 and b"confirmed" in confirmed.data


def open_incident(db: Any, now: datetime) -> int:
    with sql.write(db):
        return incident_store.insert_incident(
            db,
            title="API down",
            impact="major",
            components={"api": "major_outage"},
            body="Investigating.",
            actor="engine",
            now=now,
            escalation_policy="oncall",
            next_escalation_at=now,
        )


def escalate(db: Any, settings: Settings, now: datetime) -> int:
    with sql.write(db):
        return escalate_due(db, settings, now)


def pages(db: Any, incident_id: int) -> list[Any]:
    return [
        r for r in list_outbox(db, f"incident:{incident_id}:") if r.destination_kind.startswith("responder_")
    ]


def test_schedule_pages_who_is_on_call_and_the_link_acknowledges(
    client: FlaskClient, db: Any, settings: Settings, clock: FrozenClock
) -> None:
    verify(client, db, settings, "alice", "mail", clock())
    incident_id = open_incident(db, clock())
    escalate(db, settings, clock())

    [page] = pages(db, incident_id)
    assert (page.destination_kind, page.destination) == ("responder_email", "alice/mail")
    assert page.payload["reason"] == "on call for Primary"
    events = incident_store.events_of(db, incident_id)
    assert [e.data["text"] for e in events if e.kind == "paged"] == ["paged alice (on call for Primary)"]

    ack = urlsplit(page.payload["actions"]["acknowledge"]).path
    shown = client.get(ack)
    assert shown.status_code == 200 and b"Acknowledge incident" in shown.data and b"<form" in shown.data
    assert incident_store.get_incident(db, incident_id).acknowledged_at is None  # type: ignore[union-attr]

    done = client.post(ack)
    assert done.status_code == 200 and b"Acknowledged" in done.data
    incident = incident_store.get_incident(db, incident_id)
    assert incident is not None and incident.acknowledged_by == "user:alice"
    kinds = [e.kind for e in incident_store.events_of(db, incident_id)]
    assert "acknowledged" in kinds and "action_link" in kinds
    [entry] = [e for e in audit.recent(db) if e.action == "incident.acknowledge"]
    assert entry.actor == "user:alice" and entry.target == f"incident:{incident_id}"

    clock.advance(minutes=6)
    assert escalate(db, settings, clock()) == 0  # acknowledged: the second level never fires
    assert [r.destination for r in pages(db, incident_id)] == ["alice/mail"]


def test_unacknowledged_reaches_the_second_level_with_personal_rules(
    client: FlaskClient, db: Any, settings: Settings, clock: FrozenClock
) -> None:
    verify(client, db, settings, "alice", "mail", clock())
    verify(client, db, settings, "bob", "mail", clock())
    verify(client, db, settings, "bob", "hook", clock())
    incident_id = open_incident(db, clock())
    escalate(db, settings, clock())
    clock.advance(minutes=5)
    escalate(db, settings, clock())

    rows = pages(db, incident_id)
    assert [(r.destination, r.event) for r in rows] == [
        ("alice/mail", "incident.opened"),
        ("bob/hook", "incident.escalated"),
        ("bob/mail", "incident.escalated"),
    ]
    due = sql.rows(
        db,
        "SELECT destination, next_attempt_at FROM outbox WHERE idempotency_key LIKE 'incident:%:user:bob:%'",
    )
    assert {r["destination"]: r["next_attempt_at"] for r in due} == {
        "bob/hook": "2026-11-27T12:05:00.000+00:00",
        "bob/mail": "2026-11-27T12:07:00.000+00:00",  # bob's rule: mail 2 minutes after the webhook
    }
    assert rows[1].payload["reason"] == "paged directly"
    assert set(rows[1].payload["actions"]) == {"acknowledge", "resolve", "open"}

    # bob acknowledges from the webhook's link before the mail rule is due: the mail is cancelled
    client.post(urlsplit(rows[1].payload["actions"]["acknowledge"]).path)
    state = sql.one(
        db, "SELECT last_error FROM outbox WHERE idempotency_key LIKE 'incident:%:user:bob:1:mail'"
    )
    assert state is not None and state["last_error"] == "cancelled: acknowledged"


def test_a_schedule_with_nobody_or_unverified_contacts_says_so_on_the_timeline(
    db: Any, settings: Settings, clock: FrozenClock
) -> None:
    incident_id = open_incident(db, clock())
    escalate(db, settings, clock())  # alice is on call but has verified nothing
    assert pages(db, incident_id) == []
    [event] = [e for e in incident_store.events_of(db, incident_id) if e.kind == "not_paged"]
    assert event.data["text"] == "could not page alice (on call for Primary): no verified contact method"


def test_resolve_link_and_replay(
    client: FlaskClient, db: Any, settings: Settings, clock: FrozenClock
) -> None:
    verify(client, db, settings, "alice", "mail", clock())
    incident_id = open_incident(db, clock())
    escalate(db, settings, clock())
    [page] = pages(db, incident_id)
    resolve = urlsplit(page.payload["actions"]["resolve"]).path
    assert client.post(resolve).status_code == 200
    incident = incident_store.get_incident(db, incident_id)
    assert incident is not None and incident.status == "resolved"
    audited = len(audit.recent(db))

    replay = client.post(resolve)
    assert replay.status_code == 409 and b"already used" in replay.data
    assert len(audit.recent(db)) == audited


def test_bad_and_expired_links_change_nothing(
    client: FlaskClient, db: Any, settings: Settings, clock: FrozenClock
) -> None:
    verify(client, db, settings, "alice", "mail", clock())
    incident_id = open_incident(db, clock())
    escalate(db, settings, clock())
    [page] = pages(db, incident_id)
    ack = urlsplit(page.payload["actions"]["acknowledge"]).path
    tampered = ack[:-3] + ("AAA" if not ack.endswith("AAA") else "BBB")
    before = (len(audit.recent(db)), len(incident_store.events_of(db, incident_id)))

    for path in (tampered, "/oncall/act/not-a-token", "/oncall/act/" + "x" * 1200):
        response = client.post(path)
        assert response.status_code == 400 and b"not valid" in response.data, path

    clock.advance(hours=25)  # oncall.link_ttl is 24h
    expired = client.get(ack)
    assert expired.status_code == 410 and b"expired" in expired.data
    assert client.post(ack).status_code == 410

    incident = incident_store.get_incident(db, incident_id)
    assert incident is not None and incident.acknowledged_at is None
    assert (len(audit.recent(db)), len(incident_store.events_of(db, incident_id))) == before


def test_verification_links_are_bound_to_the_address(
    client: FlaskClient, db: Any, make_settings: Callable[..., Settings], clock: FrozenClock
) -> None:
    settings = make_settings(**ONCALL)
    with sql.write(db):
        url = paging.send_verification(db, settings, "alice", "mail", clock())
    moved = {
        **ONCALL,
        "responders": [
            {"name": "alice", "contacts": [{"id": "mail", "kind": "email", "to": "new@example.test"}]}
        ],
    }
    changed = make_settings(**{**moved, "schedules": [], "escalation_policies": []})
    client.application.config["UPWATCH_SETTINGS"] = changed
    response = client.post(urlsplit(url).path)
    assert response.status_code == 410 and b"changed" in response.data
    assert oncall_store.verified_contacts(db) == set()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_overrides_are_checked_and_nothing_is_stored_on_refusal(
    db: Any, settings: Settings, clock: FrozenClock
) -> None:
    def add(**fields: Any) -> int:
        values = {"schedule_id": "primary", "responder": "carol", "replaces": "alice", "note": "",
                  "starts_at": at("2026-11-28T09:00:00"), "ends_at": at("2026-11-29T09:00:00")}  # fmt: skip
        values.update(fields)
        return service.add_override(db, settings, actor="user:op", client="", now=clock(), **values)

    first = add()
    assert service.who(db, settings, "primary", at("2026-11-28T12:00:00")).responder == "carol"
    assert service.who(db, settings, "primary", at("2026-11-29T12:00:00")).responder == "alice"
    refusals = [
        ({"starts_at": at("2026-11-28T20:00:00"), "ends_at": at("2026-11-30T00:00:00")}, "starts_at", "overlaps override #"),
        ({"responder": "mallory"}, "responder", "unknown responder 'mallory'"),
        ({"replaces": "nobody", "starts_at": at("2026-12-01T00:00:00"), "ends_at": at("2026-12-02T00:00:00")}, "replaces", "unknown responder"),
        ({"ends_at": at("2026-11-28T08:00:00")}, "ends_at", "must be after starts_at"),
        ({"replaces": "carol", "starts_at": at("2026-12-01T00:00:00"), "ends_at": at("2026-12-02T00:00:00")}, "replaces", "themselves"),
    ]  # fmt: skip
    for fields, field, message in refusals:
        with pytest.raises(service.OncallInputError) as raised:
            add(**fields)
        assert raised.value.field == field and message in str(raised.value)
    assert [o.id for o in oncall_store.overrides_of(db, "primary")] == [first]
    with pytest.raises(service.OncallNotFound):
        add(schedule_id="secondary")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"escalation_policies": [{"id": "p", "levels": [{"targets": ["pager:x"]}]}]}, "escalation_policies[0].levels[0].targets: 'pager:x': a target is schedule:<id>, user:<name> or channel:<id>"),
        ({"escalation_policies": [{"id": "p", "levels": [{}]}]}, "give channels or targets"),
        ({"schedules": [{"id": "s", "tz": "Mars/Olympus", "layers": []}]}, "unknown time zone"),
        ({"schedules": [{"id": "s", "layers": [{"name": "l", "responders": ["alice"], "start": "2026-11-23", "shift": "3m"}]}]},
         "shift must be a number of hours, days or weeks"),
        ({"schedules": [{"id": "s", "layers": [{"name": "l", "responders": ["alice"], "start": "2026-11-23", "handoff": "9am"}]}]},
         "handoff must be a local time HH:MM"),
        ({"responders": [{"name": "alice", "contacts": [{"id": "m", "kind": "email"}]}]}, "to is required"),
        ({"responders": [{"name": "alice", "rules": [{"contact": "sms"}]}]}, "rules[0].contact: unknown contact 'sms'"),
        ({"responders": [{"name": "alice"}, {"name": "alice"}]}, "responders[1].name: duplicate responder 'alice'"),
    ],
)  # fmt: skip
def test_config_errors_name_the_key(
    make_settings: Callable[..., Settings], change: dict[str, Any], message: str
) -> None:
    base = {**ONCALL, "schedules": [], "escalation_policies": [], **change}
    with pytest.raises(ConfigError) as raised:
        make_settings(**base)
    assert message in str(raised.value)


def test_unknown_responders_are_found_against_the_merged_set(
    make_settings: Callable[..., Settings], db: Any
) -> None:
    """A layer or a `user:` target may name an operator made a responder in the admin, which the
    file cannot know: it loads, and `reference_problems` (serve, worker, reload, doctor) names the key."""
    loaded = make_settings(**{**ONCALL, "escalation_policies": [], **UNKNOWN_ZOE})
    assert service.reference_problems(db, loaded) == [
        "schedules[1].layers[0].responders: unknown responder 'zoe' (declare it in [[responders]] or"
        " make the operator a responder in the admin On call page)",
        "escalation_policies[0].levels[0].targets: unknown responder 'zoe' in 'user:zoe' (declare it"
        " in [[responders]] or make it in the admin On call page)",
    ]


UNKNOWN_ZOE: dict[str, Any] = {
    "schedules": [*ONCALL["schedules"], {"id": "s", "layers": [{"name": "l", "responders": ["zoe"], "start": "2026-11-23"}]}],
    "escalation_policies": [{"id": "p", "levels": [{"targets": ["user:zoe"]}]}],
}  # fmt: skip


def test_who_and_gaps(db: Any, settings: Settings, clock: FrozenClock) -> None:
    assert service.who(db, settings, "primary", clock()).responder == "alice"
    assert service.who(db, settings, "primary", clock() + timedelta(days=3)).responder == "bob"
    assert service.upcoming_gaps(db, settings, clock()) == {}


def test_pages_use_the_contacts_a_responder_edited(db: Any, settings: Settings, clock: FrozenClock) -> None:
    contacts = [{"id": "bot", "kind": "webhook", "url": "http://127.0.0.1:9/alice"}]
    service.set_personal(db, settings, "alice", contacts, [], "user:alice", "", clock())
    with sql.write(db):
        oncall_store.mark_verified(
            db, "alice", "bot", oncall_store.address_hash("http://127.0.0.1:9/alice"), clock()
        )
    incident_id = open_incident(db, clock())
    escalate(db, settings, clock())
    assert [(r.destination_kind, r.destination) for r in pages(db, incident_id)] == [
        ("responder_webhook", "alice/bot")
    ]
