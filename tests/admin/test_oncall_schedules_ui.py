"""Schedules made in the admin UI: the new-schedule form, layers added, changed, moved and
removed, settings, delete; errors next to their field with nothing stored; the file's schedules
read-only; the timeline follows the edits."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from statuspage.oncall import service
from statuspage.settings import Settings
from statuspage.storage import oncall as oncall_store
from tests.adminkit import Operator
from tests.statuspage.oncall.test_paging_links import ONCALL

NEW = {
    "id": "nights", "schedule_name": "Nights", "name": "base", "tz": "America/New_York", "handoff_channel": "", "handoff_notices": "on",
    "responder": ["carol", "bob", ""], "shift_count": "1", "shift_unit": "d", "handoff": "18:00",
    "start": "2026-11-20",
}  # fmt: skip
LAYER = {"name": "office", "responder": ["alice", ""], "shift_count": "1", "shift_unit": "w",
         "handoff": "09:00", "start": "2026-11-23", "weekday": ["mon", "fri"], "hours_from": "09:00",
         "hours_until": "17:00"}  # fmt: skip


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(**ONCALL)


def make(operator: Operator, **changes: Any) -> Any:
    return operator.post("/admin/oncall/new-schedule", {**NEW, **changes})


def test_schedule_made_and_changed_in_the_ui(operator: Operator, db: Any, settings: Settings) -> None:
    page = operator.client.get("/admin/oncall/new-schedule")
    assert page.status_code == 200 and "Responders, in rotation order" in page.text
    assert 'name="csrf_token"' in page.text
    made = make(operator)
    assert made.status_code == 303, made.text
    entry = service.find_schedule(db, settings, "nights")
    assert entry is not None and entry.source == "admin"
    assert [layer.responders for layer in entry.config.layers] == [["carol", "bob"]]
    shown = operator.client.get("/admin/oncall/nights").text
    assert "Made here in the admin" in shown and "take turns, 1 day each, handing off at 18:00" in shown
    assert "(layer base)" in shown  # the timeline follows the new schedule

    assert operator.post("/admin/oncall/nights/layers", LAYER).status_code == 303
    shown = operator.client.get("/admin/oncall/nights").text
    assert "only Monday, Friday; only 09:00 to 17:00" in shown
    assert operator.post("/admin/oncall/nights/layers/1/move", {"direction": "down"}).status_code == 303
    layers = service.find_schedule(db, settings, "nights").config.layers  # type: ignore[union-attr]
    assert [layer.name for layer in layers][0] == "office"
    changed = operator.post("/admin/oncall/nights/layers/0", {**LAYER, "shift_count": "2", "weekday": []})
    assert changed.status_code == 303
    layers = service.find_schedule(db, settings, "nights").config.layers  # type: ignore[union-attr]
    assert layers[0].shift == "2w" and layers[0].restrict is not None and layers[0].restrict.weekdays == []
    assert operator.post("/admin/oncall/nights/layers/0/delete").status_code == 303
    saved = operator.post("/admin/oncall/nights/settings", {"schedule_name": "Night shift", "tz": "Europe/Berlin",
                          "handoff_channel": "ops-log"})  # fmt: skip
    assert saved.status_code == 303
    config = service.find_schedule(db, settings, "nights").config  # type: ignore[union-attr]
    assert (config.label, config.tz, config.handoff_channel, config.handoff_notices) == (
        "Night shift", "Europe/Berlin", "ops-log", False)  # fmt: skip
    assert "Night shift" in operator.client.get("/admin/oncall").text
    assert operator.post("/admin/oncall/nights/delete").status_code == 303
    assert oncall_store.stored_schedules(db) == []


def test_bad_forms_show_the_error_next_to_the_field(operator: Operator, db: Any, settings: Settings) -> None:
    for changes, field_id, text in [
        ({"tz": "Mars/Olympus"}, "s-tz", "unknown time zone"),
        ({"id": "Bad Id"}, "s-id", "id"),
        ({"id": "primary"}, "s-id", "declared in upwatch.toml already"),
        ({"shift_count": "x"}, "lnew-shift", "whole number"),
        ({"handoff": "9am"}, "lnew-handoff", "handoff must be a local time"),
        ({"start": ""}, "lnew-start", "give the date of the first shift"),
        ({"responder": ["", ""]}, "lnew-responders", "choose at least one responder"),
        ({"hours_from": "09:00"}, "lnew-hours", "give both from and until"),
        ({"handoff_channel": "nope"}, "s-handoff_channel", "unknown channel"),
    ]:
        page = make(operator, **changes)
        assert page.status_code == 422, (changes, page.status_code)
        assert f'href="#{field_id}"' in page.text, (changes, page.text[:3000])
        assert f'id="{field_id}-error"' in page.text and text in page.text, changes
    assert oncall_store.stored_schedules(db) == []

    assert make(operator).status_code == 303
    before = oncall_store.stored_schedule(db, "nights")
    refused = operator.post("/admin/oncall/nights/layers/0", {**LAYER, "handoff": "25:00"})
    assert refused.status_code == 422 and 'id="l0-handoff-error"' in refused.text
    assert '<details class="act" open>' in refused.text
    refused = operator.post("/admin/oncall/nights/settings", {"schedule_name": "x", "tz": "Nowhere/Land"})
    assert refused.status_code == 422 and 'id="settings-tz-error"' in refused.text
    assert operator.post("/admin/oncall/nights/layers/0/delete").status_code == 422  # the last layer
    assert operator.post("/admin/oncall/nights/layers/0/move", {"direction": "up"}).status_code == 422
    assert operator.post("/admin/oncall/nights/layers/0/move", {"direction": "sideways"}).status_code == 422
    assert operator.post("/admin/oncall/nights/layers/7", LAYER).status_code == 404
    assert oncall_store.stored_schedule(db, "nights") == before

    # The file's schedules are shown, never changed here.
    page = operator.client.get("/admin/oncall/primary").text
    assert (
        "Declared in upwatch.toml" in page and "Save layer" not in page and "Paged by policy oncall" in page
    )
    assert operator.post("/admin/oncall/primary/layers", LAYER).status_code == 409
    assert operator.post("/admin/oncall/primary/delete").status_code == 409
    # CSRF on every form.
    no_token = operator.client.post("/admin/oncall/nights/delete", data={})
    assert no_token.status_code in (400, 403)
    assert oncall_store.stored_schedule(db, "nights") == before
