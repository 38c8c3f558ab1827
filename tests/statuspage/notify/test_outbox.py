"""Claims: a conditional UPDATE with a lease; two workers never hold the same row; an expired
lease frees a killed worker's rows; backoff is exponential and capped."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest

from statuspage.db import open_store_and_migrate
from statuspage.notify import outbox
from statuspage.notify.delivery import backoff
from statuspage.notify.outbox import NewNotification
from statuspage.storage import sql
from tests.conftest import FrozenClock

pytestmark = pytest.mark.engines("sqlite", "postgresql")

LEASE = timedelta(seconds=60)


def fill(db: Any, count: int, clock: FrozenClock, destinations: int | None = None) -> None:
    rows = [
        NewNotification("e", "log", f"d{i % (destinations or count)}", {"n": i}, f"key-{i}")
        for i in range(count)
    ]
    assert outbox.enqueue(db, rows, clock()) == count
    assert outbox.enqueue(db, rows, clock()) == 0  # idempotency keys are unique


def test_two_workers_never_claim_the_same_row(settings: Any, clock: FrozenClock) -> None:
    db = open_store_and_migrate(settings.database)
    fill(db, 400, clock)
    claimed: dict[str, list[int]] = {"a": [], "b": []}

    def worker(name: str) -> None:
        own = sql.open_store(settings.database)
        while rows := outbox.claim(own, name, clock(), LEASE, ["log"], [], 7):
            claimed[name].extend(row.id for row in rows)
        sql.close(own)

    threads = [threading.Thread(target=worker, args=(name,)) for name in claimed]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not set(claimed["a"]) & set(claimed["b"])
    assert len(claimed["a"]) + len(claimed["b"]) == 400


def test_expired_lease_frees_rows_and_busy_destinations_are_skipped(
    settings: Any, clock: FrozenClock
) -> None:
    db = open_store_and_migrate(settings.database)
    fill(db, 6, clock, destinations=3)
    first = outbox.claim(db, "dead", clock(), LEASE, ["log"], [("log", "d0")], 10)
    assert {row.destination for row in first} == {"d1", "d2"}
    assert outbox.claim(db, "other", clock(), LEASE, ["log"], [], 10) != []  # the d0 rows were free
    assert outbox.claim(db, "other", clock(), LEASE, ["log"], [], 10) == []  # all leased now
    clock.advance(seconds=61)
    again = outbox.claim(db, "other", clock(), LEASE, ["log"], [], 10)
    assert sorted(row.id for row in again) == list(range(1, 7))
    assert outbox.claim(db, "other", clock(), LEASE, ["webhook"], [], 10) == []


def test_delivered_and_failed_rows_are_never_claimed(settings: Any, clock: FrozenClock) -> None:
    db = open_store_and_migrate(settings.database)
    fill(db, 3, clock)
    outbox.mark_delivered(db, [1], clock())
    outbox.mark_failed(db, 2, "no", clock())
    outbox.schedule_retry(db, 3, "later", clock() + timedelta(seconds=30))
    assert outbox.claim(db, "w", clock(), LEASE, ["log"], [], 10) == []
    clock.advance(seconds=31)
    [row] = outbox.claim(db, "w", clock(), LEASE, ["log"], [], 10)
    assert (row.id, row.attempts) == (3, 1)
    assert outbox.counts(db) == {"pending": 1, "delivered": 1, "failed": 1}


@pytest.mark.parametrize(
    ("attempts", "low_s", "high_s"),
    [
        (1, 30, 33),
        (2, 60, 66),
        (3, 120, 132),
        (5, 480, 528),
        (7, 1920, 2112),
        (8, 3600, 3960),
        (20, 3600, 3960),
    ],
)
def test_backoff_doubles_and_is_capped(settings: Any, attempts: int, low_s: float, high_s: float) -> None:
    for row_id in (1, 17, 999):
        delay = backoff(settings, attempts, row_id).total_seconds()
        assert low_s <= delay <= high_s
