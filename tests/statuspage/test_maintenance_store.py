"""Maintenance windows: transitions claimed once, active windows, config occurrences stored once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from statuspage.storage import maintenance as store
from statuspage.storage.transaction import immediate
from tests.conftest import FrozenClock


def test_transitions_happen_once_and_in_order(db: Any, clock: FrozenClock) -> None:
    start = clock() + timedelta(minutes=10)
    with immediate(db):
        mid = store.insert_maintenance(
            db,
            title="DB upgrade",
            body="",
            scheduled_for=start,
            scheduled_until=start + timedelta(hours=1),
            components=["api", "web"],
            now=clock(),
        )
    assert mid is not None
    assert store.start_due(db, clock()) == [] and store.components_in_maintenance(db, clock()) == set()
    clock.advance(minutes=10)
    assert store.start_due(db, clock()) == [mid]
    assert store.start_due(db, clock()) == []  # a second worker claims nothing
    assert store.components_in_maintenance(db, clock()) == {"api", "web"}
    clock.advance(hours=1)
    assert store.complete_due(db, clock()) == [mid] and store.complete_due(db, clock()) == []
    window = store.get_maintenance(db, mid)
    assert window is not None and window.status == "completed" and window.started_at is not None


def test_completed_early_is_not_active(db: Any, clock: FrozenClock) -> None:
    with immediate(db):
        mid = store.insert_maintenance(
            db,
            title="t",
            body="",
            scheduled_for=clock(),
            scheduled_until=clock() + timedelta(hours=1),
            components=["api"],
            now=clock(),
        )
    assert mid is not None and store.components_in_maintenance(db, clock()) == {"api"}
    assert store.complete_now(db, mid, clock()) and not store.complete_now(db, mid, clock())
    assert store.components_in_maintenance(db, clock()) == set()
    assert not store.update_maintenance(db, mid, clock(), title="late")


def test_config_occurrence_is_stored_once(db: Any, clock: FrozenClock) -> None:
    def add() -> int | None:
        return store.insert_maintenance(
            db,
            title="Weekly",
            body="",
            scheduled_for=clock(),
            scheduled_until=clock() + timedelta(minutes=30),
            components=["api"],
            now=clock(),
            source="config:weekly",
        )

    assert add() is not None and add() is None
    assert len(store.list_maintenances(db)) == 1
