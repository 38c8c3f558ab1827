"""Two workers fanning out at once (the HA setup): each incident update is fanned out by one of
them, once, and the fan-out watermark only moves forward."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from statuspage import create_app, incidents
from statuspage.notify.fanout import fan_out
from statuspage.settings import Settings
from statuspage.storage import fanout as fanout_store
from statuspage.storage import sql
from tests.conftest import FrozenClock

pytestmark = pytest.mark.engines("sqlite", "postgresql")

UPDATES = 40


def test_two_workers_fan_out_each_update_once(
    make_settings: Callable[..., Settings], clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(page={"name": "Test Status", "url": "http://status.example.com"})
    create_app(settings)  # migrates
    db = sql.open_store(settings.database)
    try:
        for number in range(UPDATES):
            incidents.create_incident(db, settings, title=f"i{number}", body="b", actor="ops", now=clock())
        last = sql.scalar(db, "SELECT max(id) FROM incident_updates")
    finally:
        sql.close(db)
    # Record every watermark move, from both workers (the one observation point; nothing replaced).
    moves: list[int] = []
    real_set = fanout_store.set_update_watermark

    def recording(handle: Any, update_id: int) -> None:
        real_set(handle, update_id)
        moves.append(update_id)

    monkeypatch.setattr(fanout_store, "set_update_watermark", recording)
    together = threading.Barrier(2)
    errors: list[BaseException] = []

    def worker() -> None:
        handle = sql.open_store(settings.database)
        try:
            together.wait()
            while fan_out(handle, settings, clock(), max_items=1) or _pending(handle):
                pass
        except BaseException as error:  # reported by the test thread below
            errors.append(error)
        finally:
            sql.close(handle)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    # Every update taken exactly once, in order: no worker re-did one or moved the watermark back.
    assert moves == sorted(set(moves)) and len(moves) == UPDATES
    check = sql.open_store(settings.database)
    try:
        assert fanout_store.next_update_id(check) is None
        watermark = sql.scalar(
            check,
            "SELECT value FROM notify_watermarks WHERE name = :n",
            {"n": fanout_store.UPDATES_WATERMARK},
        )
        assert watermark == last
    finally:
        sql.close(check)


def _pending(handle: Any) -> bool:
    return fanout_store.next_update_id(handle) is not None
