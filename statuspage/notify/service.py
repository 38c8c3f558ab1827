"""The worker's notification duties: fan-out in each pass, delivery on its own thread.

Decision: delivery runs in a dedicated thread with its own asyncio loop
inside the worker process, not inside `Worker.run_pass`. A pass must stay
short (evaluation reads the clock once and should run every tick), while
delivery can be waiting on a slow receiver for its whole timeout. The pass
only does the quick database part (fan-out, pruning) and wakes the thread.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from datetime import datetime, timedelta

from shared.timeutil import Clock
from statuspage.notify.channels.registry import KINDS
from statuspage.notify.delivery import deliver
from statuspage.notify.fanout import fan_out
from statuspage.settings import Settings
from statuspage.storage import outbox, sql, subscriptions
from statuspage.storage.sql import Store

log = logging.getLogger(__name__)

KEEP_FINISHED = timedelta(days=30)  # delivered/failed rows kept for operators to inspect
KEEP_ATTEMPTS = timedelta(days=1)  # rate-limit windows are at most a day
PRUNE_EVERY_S = 3600.0


class Notifier:
    """Owned by the Worker: `start` with its loop, `run_pass` each tick, `stop` at shutdown.

    A Worker used pass by pass (tests) fans out but starts no delivery thread.
    """

    def __init__(self, settings: Settings, clock: Clock):
        self.settings = settings
        self.clock = clock
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._last_prune = 0.0

    def run_pass(self, db: Store, now: datetime) -> None:
        """Fan new updates out into the outbox, prune old rows, and wake delivery."""
        if fan_out(db, self.settings, now):
            self._wake.set()
        fail_unknown_kinds(db, now)
        if time.monotonic() - self._last_prune >= PRUNE_EVERY_S:
            prune(db, now)
            self._last_prune = time.monotonic()
        if self._thread is not None and not self._thread.is_alive() and not self._stop.is_set():
            log.error("delivery thread died; starting it again")
            self.start()

    def stop(self, timeout_s: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def start(self) -> None:
        """Start the delivery thread (once)."""
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(
                target=self._deliver_forever, name="upwatch-delivery", daemon=True
            )
            self._thread.start()

    def _deliver_forever(self) -> None:
        while not self._stop.is_set():
            try:
                asyncio.run(
                    deliver(self.settings, self.clock, until_idle=False, stop=self._stop, wake=self._wake)
                )
            except Exception:  # noqa: BLE001 - the delivery loop must outlive one bad moment
                log.exception("delivery loop failed; restarting in 5s")
                self._stop.wait(5.0)


def fail_unknown_kinds(db: Store, now: datetime) -> int:
    """Rows no channel kind can deliver would wait forever: fail them, saying why."""
    failed = outbox.fail_unknown_kinds(db, sorted(KINDS), now)
    if failed:
        log.warning("outbox rows with an unknown destination_kind failed count=%d", failed)
    return failed


def prune(db: Store, now: datetime) -> None:
    """Drop finished outbox rows, rate-limit records past their use, and subscription requests
    never confirmed in time (an address nobody confirmed is not kept)."""
    with sql.write(db):
        subscriptions.prune(db, now, attempts_before=now - KEEP_ATTEMPTS)
        outbox.prune_finished(db, now - KEEP_FINISHED)
