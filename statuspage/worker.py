"""The background loop: time-based evaluation (silent locations go stale, maintenance,
escalation timers, collector-downtime grace; see statuspage.timed_rules).

Also maintains the rollups and prunes raw data (`statuspage.storage.rollups.maintain`).
Delivers the outbox (statuspage.notify). Each pass reads the clock once.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from datetime import datetime, timedelta
from types import FrameType

from shared.timeutil import Clock, utcnow
from statuspage.auto_heartbeats import merged, retire_shadowed
from statuspage.burn_alerts import run_burn_alerts
from statuspage.db import open_store_and_migrate
from statuspage.evaluate import evaluate_components
from statuspage.heartbeats import check_heartbeats
from statuspage.liveness import check_agent_liveness
from statuspage.notify.service import Notifier
from statuspage.oncall.handoffs import announce_handoffs
from statuspage.responses.rules import run_responses
from statuspage.settings import Settings
from statuspage.storage import sql  # noqa: I001
from statuspage.storage.rollups import maintain as maintain_rollups
from statuspage.timed_rules import note_worker_pass, run_escalations, run_maintenance

log = logging.getLogger(__name__)
BURN_CHECK_EVERY = timedelta(seconds=30)


class Worker:
    """Runs `run_pass` every `tick_s` until stopped (SIGTERM/SIGINT or `stop()`)."""

    def __init__(self, settings: Settings, clock: Clock = utcnow, tick_s: float = 1.0):
        self.settings = settings
        self.clock = clock
        self.tick_s = tick_s
        self._stop = threading.Event()
        self.notifier = Notifier(settings, clock)
        self._reload_requested = False
        self._burn_checked_at: datetime | None = None

    def request_reload(self) -> None:
        """Ask for a config reload before the next pass (called from the SIGHUP handler)."""
        self._reload_requested = True

    def reload_if_requested(self) -> bool:
        """Reload the config if asked; a bad file keeps the running settings (logged). True if swapped."""
        if not self._reload_requested:
            return False
        self._reload_requested = False
        from statuspage.reload import ReloadRefused, load_replacement

        try:
            self.settings = load_replacement(self.settings)
        except ReloadRefused as error:
            log.error("config reload refused; keeping the running configuration:\n%s", error)
            return False
        # The delivery thread captured the old settings (channels, SMTP): replace it.
        self.notifier.stop(timeout_s=10.0)
        self.notifier = Notifier(self.settings, self.clock)
        log.info(
            "config reloaded components=%d checks=%d",
            len(self.settings.components),
            len(self.settings.checks),
        )
        return True

    def stop(self, *_args: object) -> None:
        self._stop.set()

    def run_pass(self) -> None:
        db = open_store_and_migrate(self.settings.database)
        try:
            now = self.clock()
            # The configuration wins over a check a ping created with the same slug; the rest
            # of the auto-created checks join the declared ones for this pass.
            retire_shadowed(db, self.settings)
            settings = merged(db, self.settings)
            note_worker_pass(db, settings, now)
            run_maintenance(db, settings, now)
            check_heartbeats(db, settings, now)
            changed = evaluate_components(db, settings, now)
            check_agent_liveness(db, settings, now)
            run_escalations(db, settings, now)
            announce_handoffs(db, settings, now)
            run_responses(db, settings, now)
            if changed:
                log.info("component status changed components=%s", ",".join(changed))
            self.notifier.run_pass(db, now)
            maintain_rollups(db, settings, now)
            # Burn rates move over minutes; measuring every 30 s is plenty and cheap.
            if self._burn_checked_at is None or now - self._burn_checked_at >= BURN_CHECK_EVERY:
                self._burn_checked_at = now
                run_burn_alerts(db, settings, now)
        finally:
            sql.close(db)

    def run_forever(self, parent_pid: int | None = None) -> None:
        log.info("worker started database=%s", self.settings.database)
        self.notifier.start()
        while not self._stop.is_set():
            if parent_pid is not None and os.getppid() != parent_pid:
                log.warning("parent process exited; worker stopping")
                break
            try:
                self.reload_if_requested()
                self.run_pass()
            except Exception:  # noqa: BLE001 - one bad pass must not end the loop
                log.exception("worker pass failed")
            self._stop.wait(self.tick_s)
        self.notifier.stop()
        log.info("worker stopped")


def install_signal_handlers(worker: Worker) -> None:
    def handler(signum: int, _frame: FrameType | None) -> None:
        worker.stop()

    signal.signal(signal.SIGHUP, lambda _signum, _frame: worker.request_reload())
    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
