"""Operators made responders in the admin API (and stopped being one): only existing accounts, the
file's responders read-only, removal refused while a schedule layer, an escalation level or an
override names them; bad input 4xx naming the field with nothing stored; the merged set used by
schedules, overrides, `user:` targets, the start-up check, doctor and the ICS feeds."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from icalendar import Calendar

from statuspage.doctor import check_oncall
from statuspage.oncall import responder_edits, service
from statuspage.oncall.paging import resolve_target
from statuspage.settings import ConfigError, Settings
from statuspage.storage import audit
from statuspage.storage import oncall as oncall_store
from tests.conftest import FrozenClock
from tests.statuspage.oncall.test_paging_links import ONCALL

pytestmark = pytest.mark.engines("sqlite", "postgresql")

Headers = Callable[..., dict[str, str]]
API = "/api/v1/admin/oncall"
DAVE_NIGHTS = {
    "id": "nights", "name": "Nights", "tz": "UTC",
    "layers": [{"name": "base", "responders": ["dave", "carol"], "shift": "1d", "start": "2026-11-20"}],
}  # fmt: skip
# The file may page an operator made a responder in the admin: it loads, the start-up check knows.
PAGES_DAVE = {**ONCALL, "escalation_policies": [{"id": "direct", "levels": [{"targets": ["user:dave"]}]}]}


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(**ONCALL)


def test_an_operator_made_a_responder_placed_and_removed_in_the_api(
    client: FlaskClient, api_token: Headers, db: Any, settings: Settings, clock: FrozenClock,
    make_user: Callable[..., Any],
) -> None:  # fmt: skip
    make_user("dave")
    write, read = api_token("write"), api_token("read")
    body = {"name": "dave", "display_name": "Dave D."}
    assert client.post(f"{API}/responders", json=body, headers=read).status_code == 403
    made = client.post(f"{API}/responders", json=body, headers=write)
    assert made.status_code == 201, made.json
    listed = client.get(f"{API}/responders", headers=read).json["responders"]
    assert [(r["name"], r["source"]) for r in listed] == [
        ("alice", "file"), ("bob", "file"), ("carol", "file"), ("dave", "admin")]  # fmt: skip
    assert listed[-1]["display_name"] == "Dave D." and listed[-1]["contacts"] == []
    contacts = {"contacts": [{"id": "mail", "kind": "email", "to": "dave@example.test"}], "rules": []}
    assert client.put(f"{API}/responders/dave", json=contacts, headers=write).status_code == 200
    assert service.responder(db, settings, "dave").contacts[0].to == "dave@example.test"  # type: ignore[union-attr]

    # In an admin schedule's layer, and the ICS feed of their shifts.
    assert client.post(f"{API}/schedules", json=DAVE_NIGHTS, headers=write).status_code == 201
    feed = client.get(urlsplit(service.feed_url(db, settings, "responder", "dave")).path)
    assert feed.status_code == 200
    summaries = {str(e["summary"]) for e in Calendar.from_ical(feed.data).walk("VEVENT")}
    assert summaries == {"On call: Dave D. (Nights)"}
    refused = client.post(f"{API}/responders/dave/remove", headers=write)
    assert refused.status_code == 409
    assert "schedule nights, layer 1 (base)" in refused.json["error"]

    # An override naming them holds them too, once the schedule no longer does.
    without = {"layers": [{**DAVE_NIGHTS["layers"][0], "responders": ["carol"]}]}  # type: ignore[index]
    assert client.put(f"{API}/schedules/nights", json=without, headers=write).status_code == 200
    stretch = {"responder": "dave", "replaces": "carol", "starts_at": (clock() + timedelta(hours=1)).isoformat(),
               "ends_at": (clock() + timedelta(hours=5)).isoformat()}  # fmt: skip
    override = client.post(f"{API}/schedules/nights/overrides", json=stretch, headers=write)
    assert override.status_code == 201, override.json
    refused = client.post(f"{API}/responders/dave/remove", headers=write)
    assert refused.status_code == 409 and f"override #{override.json['id']}" in refused.json["error"]
    assert client.delete(f"{API}/overrides/{override.json['id']}", headers=write).status_code == 200

    assert client.post(f"{API}/responders/dave/remove", headers=write).json == {"changed": True}
    assert oncall_store.stored_responders(db) == []
    assert "dave" not in oncall_store.personal_settings(db)  # made one again, they start afresh
    assert [r["name"] for r in client.get(f"{API}/responders", headers=read).json["responders"]] == [
        "alice", "bob", "carol"]  # fmt: skip
    actions = [e.action for e in audit.recent(db) if e.target == "dave"]
    assert set(actions) == {"oncall.responder.create", "oncall.responder.update", "oncall.responder.delete"}
    assert client.post(f"{API}/responders/dave/remove", headers=write).status_code == 404


def test_bad_responders_are_refused_naming_the_field(
    client: FlaskClient, api_token: Headers, db: Any, settings: Settings, clock: FrozenClock,
    make_user: Callable[..., Any],
) -> None:  # fmt: skip
    from statuspage.storage import accounts

    make_user("dave")
    off = make_user("eve")
    accounts.set_disabled(db, off.id, clock())
    make_user("alice")  # an account the file declares a responder
    write = api_token("write")
    for body, field, words in [
        ({}, "name", ""),
        ({"name": "zoe"}, "name", "no operator account 'zoe'"),
        ({"name": "alice"}, "name", "declared in upwatch.toml"),
        ({"name": "eve"}, "name", "disabled"),
        ({"name": "Bad Name!"}, "name", ""),
        ({"name": "dave", "display_name": "x" * 101}, "display_name", ""),
        ({"name": "dave", "colour": "red"}, "colour", ""),
        ({"name": 7}, "name", ""),
    ]:
        response = client.post(f"{API}/responders", json=body, headers=write)
        assert response.status_code == 422, (body, response.json)
        assert field in str(response.json) and words in response.json["error"] + str(response.json), body
    bad_json = client.post(
        f"{API}/responders", data="{", headers={**write, "Content-Type": "application/json"}
    )
    assert bad_json.status_code == 400
    assert oncall_store.stored_responders(db) == []

    assert client.post(f"{API}/responders", json={"name": "dave"}, headers=write).status_code == 201
    again = client.post(f"{API}/responders", json={"name": "dave"}, headers=write)
    assert again.status_code == 422 and "a responder already" in again.json["error"]
    declared = client.post(f"{API}/responders/alice/remove", headers=write)
    assert declared.status_code == 409 and "declared in upwatch.toml" in declared.json["error"]
    assert client.post(f"{API}/responders/ghost/remove", headers=write).status_code == 404
    assert [r.name for r in oncall_store.stored_responders(db)] == ["dave"]
    assert service.find_responder(db, settings, "alice").source == "file"  # type: ignore[union-attr]


def test_user_targets_and_layers_use_the_merged_set(
    app: Flask, make_settings: Callable[..., Settings], db: Any, settings: Settings, clock: FrozenClock,
    make_user: Callable[..., Any],
) -> None:  # fmt: skip
    from statuspage.oncall import schedule_edits

    make_user("dave")
    definition = {k: v for k, v in DAVE_NIGHTS.items() if k != "id"}
    with pytest.raises(service.OncallInputError) as raised:
        schedule_edits.create(db, settings, "nights", definition, "ops", "", clock())
    assert raised.value.field == "layers[0].responders" and "'dave'" in raised.value.message
    paging = make_settings(**PAGES_DAVE)  # loads: dave may be made a responder in the admin
    app.config["UPWATCH_SETTINGS"] = paging
    with pytest.raises(ConfigError, match="unknown responder 'dave' in 'user:dave'"):
        service.check_references(paging)  # serve, worker and a reload refuse to start
    assert resolve_target(db, paging, "user:dave", clock()) == (None, "unknown responder dave")
    assert [f.status for f in check_oncall(db, paging, clock())][0] == "fail"

    responder_edits.create(db, paging, "dave", None, "ops", "", clock())
    service.check_references(paging)
    assert resolve_target(db, paging, "user:dave", clock()) == ("dave", "paged directly")
    schedule_edits.create(db, paging, "nights", definition, "ops", "", clock())
    findings = [f.message for f in check_oncall(db, paging, clock())]
    assert "responder dave has no verified contact method: pages to them go nowhere" in findings
    with pytest.raises(service.OncallConflict, match="schedule nights, layer 1 .*policy direct, level 1"):
        responder_edits.remove(db, paging, "dave", "ops", "", clock())

    # The file later declares dave too: the file's is used, and doctor says so.
    both = make_settings(**{**PAGES_DAVE, "responders": [*ONCALL["responders"], {"name": "dave"}]})
    assert service.find_responder(db, both, "dave").source == "file"  # type: ignore[union-attr]
    assert [e.name for e in service.all_responders(db, both)].count("dave") == 1
    assert any("responder dave is declared in upwatch.toml and was also made" in f.message
               for f in check_oncall(db, both, clock()))  # fmt: skip
