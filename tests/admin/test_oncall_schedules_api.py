"""Schedules made in the admin API: create, read back (who is on call), layers added, changed,
moved and removed, delete; the file's schedules read-only; bad input 4xx naming the field with
nothing stored; the merged set used by paging targets, doctor and the start-up check."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from statuspage.doctor import check_oncall
from statuspage.oncall import service
from statuspage.settings import ConfigError, Settings
from statuspage.storage import audit
from statuspage.storage import oncall as oncall_store
from tests.conftest import FrozenClock
from tests.statuspage.oncall.test_paging_links import ONCALL

Headers = Callable[..., dict[str, str]]
API = "/api/v1/admin/oncall/schedules"
NIGHTS = {
    "id": "nights",
    "name": "Nights",
    "tz": "America/New_York",
    "layers": [{"name": "base", "responders": ["carol", "bob"], "shift": "1d", "handoff": "18:00",
                "start": "2026-11-20"}],
}  # fmt: skip
# Escalation may page a schedule made in the admin: the file names it, the database has it.
PAGES_NIGHTS = {
    **ONCALL,
    "escalation_policies": [{"id": "night", "levels": [{"targets": ["schedule:nights"]}]}],
}


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(**ONCALL)


def test_schedule_made_changed_and_deleted_in_the_api(
    client: FlaskClient, api_token: Headers, db: Any, settings: Settings, clock: FrozenClock
) -> None:
    write, read = api_token("write"), api_token("read")
    assert client.post(API, json=NIGHTS, headers=read).status_code == 403
    assert client.post(API, json=NIGHTS, headers=write).status_code == 201
    listed = client.get(API, headers=read).json["schedules"]
    assert [(s["id"], s["source"]) for s in listed] == [("primary", "file"), ("nights", "admin")]
    got = client.get(f"{API}/nights?weeks=1", headers=read).json
    assert got["on_call"]["responder"] in ("carol", "bob") and got["layers"][0]["handoff"] == "18:00"
    assert service.who(db, settings, "nights", clock()).responder == got["on_call"]["responder"]

    office = {"name": "office", "responders": ["alice"], "shift": "1w", "start": "2026-11-23",
              "restrict": {"weekdays": ["mon", "tue"], "hours": "09:00-17:00"}}  # fmt: skip
    assert client.post(f"{API}/nights/layers", json=office, headers=write).status_code == 201
    assert (
        client.put(f"{API}/nights/layers/1", json={**office, "shift": "2w"}, headers=write).status_code == 200
    )
    move = client.post(f"{API}/nights/layers/1/move", json={"to": 0}, headers=write)
    assert move.json == {"changed": True}
    layers = client.get(f"{API}/nights", headers=read).json["layers"]
    assert [(layer["name"], layer["shift"]) for layer in layers] == [("office", "2w"), ("base", "1d")]
    assert client.delete(f"{API}/nights/layers/0", headers=write).status_code == 200
    renamed = {"name": "Night shift", "tz": "Europe/Berlin", "layers": [NIGHTS["layers"][0]]}
    assert client.put(f"{API}/nights", json=renamed, headers=write).status_code == 200
    assert service.find_schedule(db, settings, "nights").config.label == "Night shift"  # type: ignore[union-attr]
    actions = [e.action for e in audit.recent(db) if e.target == "schedule:nights"]
    assert set(actions) == {"oncall.schedule.create", "oncall.layer.create", "oncall.layer.update",
                            "oncall.layer.move", "oncall.layer.delete", "oncall.schedule.update"}  # fmt: skip
    assert client.delete(f"{API}/nights", headers=write).json == {"changed": True}
    assert client.get(f"{API}/nights", headers=read).status_code == 404
    assert oncall_store.stored_schedules(db) == []


def test_bad_schedules_are_refused_naming_the_field(
    client: FlaskClient, api_token: Headers, db: Any, settings: Settings
) -> None:
    write = api_token("write")
    layer = NIGHTS["layers"][0]
    for body, status, field in [
        ({**NIGHTS, "tz": "Mars/Olympus"}, 422, "tz"),
        ({**NIGHTS, "layers": [{**layer, "shift": "3m"}]}, 422, "layers.0.shift"),
        ({**NIGHTS, "layers": [{**layer, "handoff": "25:00"}]}, 422, "layers.0.handoff"),
        ({**NIGHTS, "layers": [{**layer, "responders": ["zoe"]}]}, 422, "layers.0.responders"),
        ({**NIGHTS, "layers": [{**layer, "restrict": {"hours": "9-5"}}]}, 422, "layers.0.restrict.hours"),
        ({**NIGHTS, "layers": []}, 422, "layers"),
        ({**NIGHTS, "handoff_channel": "nope"}, 422, "handoff_channel"),
        ({**NIGHTS, "id": "primary"}, 422, "id"),
        ({**NIGHTS, "id": "Bad Id"}, 422, "id"),
        ({**NIGHTS, "colour": "red"}, 422, "colour"),
    ]:
        response = client.post(API, json=body, headers=write)
        assert response.status_code == status, (body, response.json)
        # The body's own checks say "layers.0.shift" (the API's convention), cross references too.
        assert field in str(response.json).replace("[", ".").replace("]", ""), (field, response.json)
    assert oncall_store.stored_schedules(db) == []
    assert (
        client.post(API, data="{", headers={**write, "Content-Type": "application/json"}).status_code == 400
    )

    assert client.post(API, json=NIGHTS, headers=write).status_code == 201
    assert client.post(API, json=NIGHTS, headers=write).status_code == 422  # the id is taken
    before = oncall_store.stored_schedule(db, "nights")
    for method, path, body, status in [
        ("put", f"{API}/primary", {"layers": [layer]}, 409),  # declared in upwatch.toml
        ("delete", f"{API}/primary", None, 409),
        ("post", f"{API}/primary/layers", layer, 409),
        ("put", f"{API}/nights/layers/5", layer, 404),
        ("delete", f"{API}/nights/layers/0", None, 422),  # the last layer
        ("post", f"{API}/nights/layers/0/move", {"to": 3}, 422),
        ("post", f"{API}/nights/layers/0/move", {"to": "up"}, 422),
        ("put", f"{API}/nights/layers/0", {**layer, "start": "someday"}, 422),
        ("put", f"{API}/ghost", {"layers": [layer]}, 404),
    ]:
        response = getattr(client, method)(path, json=body, headers=write)
        assert response.status_code == status, (method, path, response.json)
        assert response.json["error"]
    assert oncall_store.stored_schedule(db, "nights") == before
    assert "declared in upwatch.toml" in client.delete(f"{API}/primary", headers=write).json["error"]


def test_policies_page_admin_schedules_and_refuse_unknown_ones(
    make_settings: Callable[..., Settings], db: Any, settings: Settings, clock: FrozenClock
) -> None:
    from statuspage.oncall import schedule_edits
    from statuspage.oncall.paging import resolve_target

    paging = make_settings(**PAGES_NIGHTS)  # loads: the file cannot know the admin's schedules
    assert service.reference_problems(db, paging) == [
        "escalation_policies[0].levels[0].targets: unknown schedule 'nights' in 'schedule:nights'"
        " (declare it in [[schedules]] or make it in the admin On call page)"
    ]
    with pytest.raises(ConfigError, match="unknown schedule 'nights'"):
        service.check_references(paging)
    assert [f.status for f in check_oncall(db, paging, clock())][0] == "fail"

    definition = {k: v for k, v in NIGHTS.items() if k != "id"}
    schedule_edits.create(db, paging, "nights", definition, "ops", "", clock())
    assert service.reference_problems(db, paging) == []
    service.check_references(paging)
    name, why = resolve_target(db, paging, "schedule:nights", clock())
    assert name in ("carol", "bob") and why == "on call for Nights"
    assert service.used_by(paging, "nights") == ["policy night, level 1"]
    with pytest.raises(service.OncallConflict, match="paged by policy night, level 1"):
        schedule_edits.delete(db, paging, "nights", "ops", "", clock())
    # A gap in an admin schedule that a policy pages is a doctor warning, like the file's.
    schedule_edits.change(db, paging, "nights", {"layers": [{**NIGHTS["layers"][0], "start": "2026-12-20"}]},
                          "ops", "", clock())  # fmt: skip
    assert "nights" in service.upcoming_gaps(db, paging, clock() + timedelta(hours=1))
    assert any("schedule nights: nobody on call" in f.message for f in check_oncall(db, paging, clock()))
