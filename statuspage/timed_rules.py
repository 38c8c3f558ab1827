"""The incident engine's time-based rules, run by the worker every pass.

- Collector downtime: if the previous worker pass is older than DOWNTIME_GAP,
  the collector itself was down (or stopped); results replayed from agents'
  spools and "missed" heartbeats would otherwise open incidents for
  everything at once, so new incidents wait `downtime_grace` (existing ones
  still update and resolve). Other rules (agent liveness) should consult
  `in_downtime_grace`.
- Maintenance: configured windows become stored occurrences, and stored
  windows move scheduled -> in_progress -> completed (conditional UPDATEs).
- Escalation timers: due steps are paged (see incident_actions.escalate_due).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from shared.timeutil import to_iso
from statuspage.engine.maintenance_windows import occurrences
from statuspage.evaluate import QUIET_UNTIL
from statuspage.incident_actions import escalate_due
from statuspage.settings import Settings
from statuspage.storage import maintenance as windows
from statuspage.storage import sql
from statuspage.storage.engine_state import get_time, set_time
from statuspage.storage.sql import Store  # noqa: I001

log = logging.getLogger(__name__)
LAST_PASS = "worker_last_pass_at"
BACK_AT = "collector_back_at"  # when the worker came back after the collector's last downtime
DOWNTIME_GAP = timedelta(seconds=30)
MAINTENANCE_HORIZON = timedelta(days=7)


def note_worker_pass(db: Store, settings: Settings, now: datetime) -> bool:
    """Record this pass; after a gap (collector downtime) start the grace. True if it started."""
    with sql.write(db):
        last = get_time(db, LAST_PASS)
        set_time(db, LAST_PASS, now)
        if last is None or now - last <= DOWNTIME_GAP:
            return False
        set_time(db, BACK_AT, now)
        quiet_until = now + settings.downtime_grace
        current = get_time(db, QUIET_UNTIL)
        if current is None or current < quiet_until:
            set_time(db, QUIET_UNTIL, quiet_until)
    log.warning(
        "collector was down down_since=%s gap_s=%.0f new_incidents_after=%s",
        to_iso(last),
        (now - last).total_seconds(),
        to_iso(quiet_until),
    )
    return True


def in_downtime_grace(db: Store, now: datetime) -> bool:
    """True while new incidents wait after the collector's own downtime."""
    quiet_until = get_time(db, QUIET_UNTIL)
    return quiet_until is not None and now < quiet_until


def listening_since(db: Store) -> datetime | None:
    """When the collector came back after its last downtime (None: no downtime seen).

    Silence before that moment is the collector's, not the agents': a liveness
    rule should count an agent's silence only from here.
    """
    return get_time(db, BACK_AT)


def run_maintenance(db: Store, settings: Settings, now: datetime) -> tuple[list[int], list[int]]:
    """Store upcoming configured occurrences, then move windows along; return (started, completed)."""
    with sql.write(db):
        for window in settings.maintenance:
            for occurrence in occurrences(window, now, MAINTENANCE_HORIZON):
                windows.insert_maintenance(
                    db,
                    title=window.title,
                    body=window.body,
                    scheduled_for=occurrence.starts_at,
                    scheduled_until=occurrence.ends_at,
                    components=list(window.components),
                    now=now,
                    source=occurrence.source,
                )
        completed = windows.complete_due(db, now)
        started = windows.start_due(db, now)
    if started or completed:
        log.info("maintenance started=%s completed=%s", started, completed)
    return started, completed


def run_escalations(db: Store, settings: Settings, now: datetime) -> int:
    """Page every due escalation step; return the outbox rows written."""
    with sql.write(db):
        return escalate_due(db, settings, now)
