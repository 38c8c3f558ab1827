"""The storage of schedules made in the admin (`statuspage.storage.oncall`), on both engines
(the `engine` fixture parameter), in the style of test_storage_engines.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from statuspage.storage import oncall, sql

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
NIGHTS = {"name": "Nights", "tz": "America/New_York",
          "layers": [{"name": "base", "responders": ["carol"], "shift": "1d", "start": "2026-11-20"}]}  # fmt: skip


def test_schedules_stored_once_changed_and_deleted_with_their_overrides(store: sql.Store) -> None:
    with sql.write(store):
        assert oncall.insert_schedule(store, "nights", NIGHTS, "ops", T0)
        assert not oncall.insert_schedule(store, "nights", {**NIGHTS, "name": "Other"}, "eve", T0)
        assert oncall.insert_schedule(store, "days", NIGHTS, "ops", T0)
    assert [s.schedule_id for s in oncall.stored_schedules(store)] == ["days", "nights"]
    found = oncall.stored_schedule(store, "nights")
    assert found is not None and found.definition == NIGHTS and found.created_at == T0
    later = T0 + timedelta(hours=1)
    with sql.write(store):
        assert oncall.update_schedule(store, "nights", {**NIGHTS, "name": "Night shift"}, "eve", later)
        assert not oncall.update_schedule(store, "ghost", NIGHTS, "eve", later)
        oncall.insert_override(
            store, schedule_id="nights", responder="bob", replaces=None, starts_at=T0,
            ends_at=later, note="", created_by="ops", now=T0,
        )  # fmt: skip
    changed = oncall.stored_schedule(store, "nights")
    assert changed is not None and changed.definition["name"] == "Night shift"
    assert (changed.updated_by, changed.updated_at, changed.created_by) == ("eve", later, "ops")
    with sql.write(store):
        assert oncall.delete_schedule(store, "nights")
        assert not oncall.delete_schedule(store, "nights")
    assert oncall.stored_schedule(store, "nights") is None
    assert oncall.overrides_of(store, "nights") == []
    assert [s.schedule_id for s in oncall.stored_schedules(store)] == ["days"]


def test_responders_made_once_and_removed_with_their_personal_settings(store: sql.Store) -> None:
    with sql.write(store):
        assert oncall.insert_responder(store, "dave", "Dave D.", "ops", T0)
        assert not oncall.insert_responder(store, "dave", None, "eve", T0)
        assert oncall.insert_responder(store, "erin", None, "ops", T0)
        oncall.set_personal(
            store, "dave", [{"id": "mail", "kind": "email", "to": "d@example.test"}], [], "dave", T0
        )
        oncall.mark_verified(store, "dave", "mail", oncall.address_hash("d@example.test"), T0)
        oncall.insert_override(
            store, schedule_id="nights", responder="carol", replaces="dave", starts_at=T0,
            ends_at=T0 + timedelta(hours=2), note="", created_by="ops", now=T0,
        )  # fmt: skip
    assert [r.name for r in oncall.stored_responders(store)] == ["dave", "erin"]
    found = oncall.stored_responder(store, "dave")
    assert found is not None and (found.display_name, found.created_by, found.created_at) == (
        "Dave D.",
        "ops",
        T0,
    )
    assert [o.replaces for o in oncall.overrides_naming(store, "dave", T0)] == ["dave"]
    assert oncall.overrides_naming(store, "dave", T0 + timedelta(hours=2)) == []  # over by then
    with sql.write(store):
        assert oncall.delete_responder(store, "dave")
        assert not oncall.delete_responder(store, "dave")
    assert oncall.stored_responder(store, "dave") is None
    assert "dave" not in oncall.personal_settings(store)
    assert not any(name == "dave" for name, _contact, _hash in oncall.verified_contacts(store))
    assert [r.name for r in oncall.stored_responders(store)] == ["erin"]
