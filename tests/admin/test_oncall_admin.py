"""On call in the admin UI and API: who is on call, the timeline, overrides (and their refusals),
contact verification, gap warnings, and the ICS feeds read back with the `icalendar` library."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask.testing import FlaskClient
from icalendar import Calendar

from statuspage.doctor import check_oncall
from statuspage.oncall import service
from statuspage.settings import Settings
from statuspage.storage import oncall as oncall_store
from statuspage.storage.outbox import list_outbox
from tests.adminkit import Operator
from tests.conftest import FrozenClock
from tests.statuspage.oncall.test_paging_links import ONCALL

pytestmark = pytest.mark.engines("sqlite", "postgresql")

Headers = Callable[..., dict[str, str]]
OFFICE_ONLY = {
    **ONCALL,
    "schedules": [
        {
            "id": "primary",
            "name": "Primary",
            "tz": "Europe/Berlin",
            "layers": [
                {"name": "day", "responders": ["alice", "bob"], "shift": "1d", "start": "2026-11-23",
                 "restrict": {"weekdays": ["mon", "tue", "wed", "thu", "fri"], "hours": "09:00-17:00"}},
            ],
        }
    ],
}  # fmt: skip


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(**ONCALL)


def test_oncall_page_shows_who_and_sends_verification(operator: Operator, db: Any) -> None:
    page = operator.client.get("/admin/oncall")
    assert page.status_code == 200
    text = page.text
    assert "Primary" in text and "not verified yet, gets no pages" in text and "ICS feed" in text
    sent = operator.post("/admin/oncall/verify", {"responder": "bob", "contact": "hook"})
    assert sent.status_code == 303
    assert [r.destination for r in list_outbox(db, "oncall:verify:")] == ["bob/hook"]
    refused = operator.post("/admin/oncall/verify", {"responder": "bob", "contact": "sms"})
    assert refused.status_code == 422 and "bob has no contact &#39;sms&#39;" in refused.text
    assert len(list_outbox(db, "oncall:verify:")) == 1


def test_schedule_timeline_and_overrides_in_the_ui(operator: Operator, db: Any) -> None:
    page = operator.client.get("/admin/oncall/primary?weeks=3")
    assert page.status_code == 200 and "(layer weekly)" in page.text
    form = {
        "responder": "carol",
        "replaces": "alice",
        "starts_at": "2026-11-28T09:00",
        "ends_at": "2026-11-29T09:00",
        "note": "swap",
    }
    assert operator.post("/admin/oncall/primary/overrides", form).status_code == 303
    [stored] = oncall_store.overrides_of(db, "primary")
    assert stored.starts_at == datetime(2026, 11, 28, 8, 0, tzinfo=UTC)  # 09:00 Berlin
    assert "(override #" in operator.client.get("/admin/oncall/primary").text

    for bad, message in [
        ({**form, "starts_at": "2026-11-28T20:00", "ends_at": "2026-11-30T00:00"}, "overlaps override #"),
        (
            {**form, "responder": "mallory", "starts_at": "2026-12-10T00:00", "ends_at": "2026-12-11T00:00"},
            "unknown responder",
        ),
        ({**form, "starts_at": "next friday"}, "give a date and time"),
    ]:
        response = operator.post("/admin/oncall/primary/overrides", bad)
        assert response.status_code == 422 and message in response.text, bad
        assert 'role="alert"' in response.text
    assert len(oncall_store.overrides_of(db, "primary")) == 1

    assert operator.post(f"/admin/oncall/overrides/{stored.id}/delete").status_code == 303
    assert oncall_store.overrides_of(db, "primary") == []
    assert operator.post(f"/admin/oncall/overrides/{stored.id}/delete").status_code == 404


def test_api_who_is_on_call_and_overrides(client: FlaskClient, api_token: Headers, db: Any) -> None:
    write, read = api_token("write"), api_token("read")
    found = client.get("/api/v1/admin/oncall/schedules/primary?at=2026-12-01T12:00:00Z&weeks=2", headers=read)
    assert found.status_code == 200, found.json
    body = found.json
    assert body["on_call"] == {"responder": "bob", "layer": "weekly", "override_id": None}
    assert [s["responder"] for s in body["shifts"]] == ["bob", "alice", "bob"] and body["gaps"] == []
    assert client.get("/api/v1/admin/oncall/schedules", headers=read).json["schedules"][0]["id"] == "primary"

    override = {"responder": "carol", "starts_at": "2026-12-01T00:00:00Z", "ends_at": "2026-12-02T00:00:00Z"}
    assert (
        client.post(
            "/api/v1/admin/oncall/schedules/primary/overrides", json=override, headers=read
        ).status_code
        == 403
    )
    created = client.post("/api/v1/admin/oncall/schedules/primary/overrides", json=override, headers=write)
    assert created.status_code == 201
    now_on = client.get("/api/v1/admin/oncall/schedules/primary?at=2026-12-01T12:00:00Z", headers=read).json
    assert (
        now_on["on_call"]["responder"] == "carol" and now_on["on_call"]["override_id"] == created.json["id"]
    )

    for bad, status, text in [
        (override, 422, "overlaps override"),
        (
            {
                **override,
                "responder": "zoe",
                "starts_at": "2026-12-05T00:00:00Z",
                "ends_at": "2026-12-06T00:00:00Z",
            },
            422,
            "unknown responder",
        ),
        ({**override, "starts_at": "2026-12-05T00:00:00"}, 422, "timezone"),
        ({**override, "extra": 1}, 422, "extra"),
    ]:
        response = client.post("/api/v1/admin/oncall/schedules/primary/overrides", json=bad, headers=write)
        assert response.status_code == status and text in response.json["error"] + str(
            response.json.get("details")
        ), response.json
    assert (
        len(client.get("/api/v1/admin/oncall/schedules/primary/overrides", headers=read).json["overrides"])
        == 1
    )
    assert client.get("/api/v1/admin/oncall/schedules/nope", headers=read).status_code == 404
    assert client.get("/api/v1/admin/oncall/schedules/primary?at=yesterday", headers=read).status_code == 400
    assert client.delete(f"/api/v1/admin/oncall/overrides/{created.json['id']}", headers=write).json == {
        "changed": True
    }
    assert (
        client.delete(f"/api/v1/admin/oncall/overrides/{created.json['id']}", headers=write).status_code
        == 404
    )


def test_ics_feeds_parse_with_icalendar(
    client: FlaskClient, db: Any, settings: Settings, clock: FrozenClock
) -> None:
    url = service.feed_url(db, settings, "schedule", "primary")
    response = client.get(urlsplit(url).path)
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    calendar = Calendar.from_ical(response.data)
    events = list(calendar.walk("VEVENT"))
    assert len(events) >= 8
    starts = [e.decoded("dtstart") for e in events]
    assert all(
        s.astimezone(settings.schedule("primary").to_schedule().zone).strftime("%a %H:%M") == "Mon 09:00"
        for s in starts[1:]
    )  # type: ignore[union-attr]
    assert {str(e["summary"]) for e in events} == {"On call: alice (Primary)", "On call: Bob B. (Primary)"}
    assert len({str(e["uid"]) for e in events}) == len(events)

    mine = Calendar.from_ical(
        client.get(urlsplit(service.feed_url(db, settings, "responder", "bob")).path).data
    )
    assert {str(e["summary"]) for e in mine.walk("VEVENT")} == {"On call: Bob B. (Primary)"}

    wrong = urlsplit(url).path.replace("/schedule/primary/", "/schedule/primary/0")
    assert client.get(wrong).status_code == 404
    assert client.get("/oncall/feeds/responder/alice/" + "0" * 40 + ".ics").status_code == 404


def test_gaps_are_warned_in_admin_and_doctor(
    make_settings: Callable[..., Settings], app: Any, operator: Operator, db: Any, clock: FrozenClock
) -> None:
    gappy = make_settings(**OFFICE_ONLY)
    app.config["UPWATCH_SETTINGS"] = gappy
    page = operator.client.get("/admin/oncall")
    assert "nobody on call for" in page.text and "Cover it with an override" in page.text
    findings = check_oncall(db, gappy, clock())
    gap = [f for f in findings if "nobody on call" in f.message]
    assert len(gap) == 1 and gap[0].status == "warn" and "schedule primary" in gap[0].message
    assert any("alice has no verified contact method" in f.message for f in findings)
    assert service.upcoming_gaps(db, gappy, clock() + timedelta(days=1))["primary"]


def test_responders_edit_their_contacts_in_api_and_ui(
    client: FlaskClient,
    api_token: Headers,
    operator: Operator,
    db: Any,
    settings: Settings,
    clock: FrozenClock,
) -> None:
    write, read = api_token("write"), api_token("read")
    mine = {
        "contacts": [{"id": "sms", "kind": "apprise", "url": "json://127.0.0.1:9/sms"}],
        "rules": [{"contact": "sms", "after": "1m"}],
    }
    assert client.put("/api/v1/admin/oncall/responders/alice", json=mine, headers=read).status_code == 403
    assert client.put("/api/v1/admin/oncall/responders/alice", json=mine, headers=write).json == {
        "changed": True
    }
    [alice] = [
        r
        for r in client.get("/api/v1/admin/oncall/responders", headers=read).json["responders"]
        if r["name"] == "alice"
    ]
    assert alice["edited"] and alice["contacts"] == [
        {"id": "sms", "kind": "apprise", "to": None, "url": "json://127.0.0.1:9/sms", "verified": False}
    ]
    assert alice["rules"] == [{"contact": "sms", "after_s": 60.0}]
    effective = service.responder(db, settings, "alice")
    assert effective is not None and [c.id for c in effective.contacts] == ["sms"]

    for bad, status, text in [
        ({"contacts": [{"id": "m", "kind": "email"}]}, 422, "to is required"),
        ({"contacts": [{"id": "m", "kind": "pager", "to": "x"}]}, 422, "contacts[0].kind"),
        ({"contacts": [], "rules": [{"contact": "nope"}]}, 422, "unknown contact 'nope'"),
        ({"contacts": [], "extra": 1}, 422, "extra"),
    ]:
        response = client.put("/api/v1/admin/oncall/responders/alice", json=bad, headers=write)
        assert response.status_code == status and text in response.json["error"] + str(
            response.json.get("details")
        ), response.json
    assert client.put("/api/v1/admin/oncall/responders/zoe", json=mine, headers=write).status_code == 404
    assert [c.id for c in service.responder(db, settings, "alice").contacts] == ["sms"]  # type: ignore[union-attr]

    assert "(edited here)" in operator.client.get("/admin/oncall").text
    assert "json://127.0.0.1:9/sms" in operator.client.get("/admin/oncall/responders/alice").text
    form = {
        "contacts": "1",
        "contact-0-id": "mail",
        "contact-0-kind": "email",
        "contact-0-address": "a2@example.test",
    }
    assert operator.post("/admin/oncall/responders/alice", form).status_code == 303
    assert service.responder(db, settings, "alice").contacts[0].to == "a2@example.test"  # type: ignore[union-attr]
    assert operator.post("/admin/oncall/responders/alice/reset").status_code == 303
    assert service.responder(db, settings, "alice") == settings.responder("alice")
    assert client.delete("/api/v1/admin/oncall/responders/alice", headers=write).json == {"changed": False}
