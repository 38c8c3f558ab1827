"""Handoff notices: the incoming responder (and the schedule's handoff channel) hear when a shift
starts, once, and a first pass announces nothing from before upwatch was watching."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from statuspage.oncall.handoffs import announce_handoffs
from statuspage.settings import Settings
from statuspage.storage import oncall as oncall_store
from statuspage.storage import sql
from statuspage.storage.outbox import list_outbox
from tests.conftest import FrozenClock
from tests.statuspage.oncall.test_paging_links import ONCALL

pytestmark = pytest.mark.engines("sqlite", "postgresql")


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    schedule = {**ONCALL["schedules"][0], "handoff_channel": "ops-log"}
    return make_settings(**{**ONCALL, "schedules": [schedule]})


def test_incoming_responder_and_channel_are_told_once(
    db: Any, settings: Settings, clock: FrozenClock
) -> None:
    with sql.write(db):
        for name in ("alice", "bob"):
            oncall_store.mark_verified(
                db, name, "mail", oncall_store.address_hash(f"{name}@example.test"), clock()
            )
    assert announce_handoffs(db, settings, clock()) == 0  # the first pass only sets the mark
    clock.now = datetime(2026, 11, 30, 7, 59, tzinfo=UTC)
    assert announce_handoffs(db, settings, clock()) == 0
    clock.now = datetime(2026, 11, 30, 8, 0, 30, tzinfo=UTC)  # 09:00:30 in Berlin: bob's week starts
    assert announce_handoffs(db, settings, clock()) == 2
    rows = list_outbox(db, "oncall:handoff:")
    assert [(r.destination_kind, r.destination) for r in rows] == [
        ("responder_email", "bob/mail"),
        ("log", "ops-log"),
    ]
    assert rows[0].payload["title"] == "You are on call for Primary"
    assert "Mon 2026-11-30 09:00 CET" in rows[0].payload["body"]
    assert rows[1].payload["body"] == "Bob B. is now on call for Primary."
    clock.advance(minutes=1)
    assert announce_handoffs(db, settings, clock()) == 0
    assert len(list_outbox(db, "oncall:handoff:")) == 2


def test_a_responder_made_in_the_admin_hears_of_their_shift(
    db: Any, settings: Settings, clock: FrozenClock
) -> None:
    from statuspage.admin.accounts import create_user
    from statuspage.oncall import responder_edits, schedule_edits, service

    create_user(db, "dave", "correct horse battery staple", clock())
    responder_edits.create(db, settings, "dave", "Dave D.", "ops", "", clock())
    contacts = [{"id": "mail", "kind": "email", "to": "dave@example.test"}]
    service.set_personal(db, settings, "dave", contacts, [], "dave", "", clock())
    with sql.write(db):
        oncall_store.mark_verified(
            db, "dave", "mail", oncall_store.address_hash("dave@example.test"), clock()
        )
    layer = {
        "name": "base",
        "responders": ["carol", "dave"],
        "shift": "1d",
        "handoff": "09:00",
        "start": "2026-11-26",
    }
    schedule_edits.create(
        db, settings, "days", {"name": "Days", "tz": "UTC", "layers": [layer]}, "ops", "", clock()
    )
    assert announce_handoffs(db, settings, clock()) == 0  # the first pass only sets the mark
    clock.now = datetime(2026, 11, 29, 9, 0, 30, tzinfo=UTC)  # dave's next day starts
    announce_handoffs(db, settings, clock())
    rows = [r for r in list_outbox(db, "oncall:handoff:") if r.destination.startswith("dave/")]
    assert [(r.destination_kind, r.destination) for r in rows] == [("responder_email", "dave/mail")]
    assert rows[0].payload["title"] == "You are on call for Days"
