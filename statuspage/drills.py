"""Incident drills: rehearse the whole response with a synthetic failure.

`start()` records a drill for a component. From then on the assignments tell
the agents that run the component's checks to fail them on purpose until the
drill's end (results marked `detail.drill = <id>`). Everything else is the
real pipeline: ingest, thresholds and quorum, the incident (marked as a drill:
never public, subscribers told only if asked), escalation through the outbox,
an operator's acknowledgement. `measure()` reads the timings back:

- propagation: drill start -> first injected failure received (assignment refresh)
- detection: first injected failure -> incident open (thresholds, quorum)
- notification: incident open -> first page delivered (or queued)
- acknowledgement: first page -> acknowledged by a person
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from shared.timeutil import to_iso
from statuspage.settings import Settings
from statuspage.storage import drills as store
from statuspage.storage import sql
from statuspage.storage.incidents import get_incident
from statuspage.storage.sql import Store  # noqa: I001

MAX_DURATION = timedelta(hours=2)


class DrillError(ValueError):
    """The drill cannot run as asked; the message says why."""


@dataclass(frozen=True)
class DrillReport:
    drill_id: int
    component_id: str
    started_at: str
    ends_at: str
    first_failure_at: str | None
    incident_id: int | None
    incident_opened_at: str | None
    first_notification_at: str | None
    acknowledged_at: str | None
    acknowledged_by: str | None
    resolved_at: str | None
    propagation_s: float | None
    detection_s: float | None
    notification_s: float | None
    acknowledgement_s: float | None
    outcome: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def start(
    db: Store,
    settings: Settings,
    component_id: str,
    duration: timedelta,
    actor: str,
    now: datetime,
    notify_subscribers: bool = False,
) -> int:
    """Record a drill; return its id. Raises DrillError (unknown component, no agent checks,
    a drill already running, a duration out of range)."""
    component = settings.component(component_id)
    if component is None:
        raise DrillError(f"unknown component {component_id!r}")
    if not any(check.kind != "heartbeat" for check in settings.checks_of(component_id)):
        raise DrillError(f"component {component_id!r} has no checks run by agents to fail")
    if not timedelta(seconds=1) <= duration <= MAX_DURATION:
        raise DrillError("duration must be between 1s and 2h")
    with sql.write(db):
        if component_id in store.running_drills(db, now):
            raise DrillError(f"a drill is already running on {component_id!r}")
        return store.insert_drill(db, component_id, actor, now, now + duration, notify_subscribers)


def measure(db: Store, settings: Settings, drill_id: int, now: datetime) -> DrillReport:
    """Read the drill's timings so far. Raises DrillError when there is no such drill."""
    drill = store.get_drill(db, drill_id)
    if drill is None:
        raise DrillError(f"no drill {drill_id}")
    check_ids = [c.id for c in settings.checks_of(drill.component_id)]
    first_failure = store.first_drill_failure_at(db, check_ids, drill.id, drill.started_at)
    incident = get_incident(db, drill.incident_id) if drill.incident_id else None
    opened = incident.created_at if incident else None
    notified = store.first_notification_at(db, incident.id) if incident else None
    acked = incident.acknowledged_at if incident else None
    return DrillReport(
        drill_id=drill.id,
        component_id=drill.component_id,
        started_at=to_iso(drill.started_at),
        ends_at=to_iso(drill.ends_at),
        first_failure_at=_iso(first_failure),
        incident_id=incident.id if incident else None,
        incident_opened_at=_iso(opened),
        first_notification_at=_iso(notified),
        acknowledged_at=_iso(acked),
        acknowledged_by=incident.acknowledged_by if incident else None,
        resolved_at=_iso(incident.resolved_at if incident else None),
        propagation_s=_seconds(drill.started_at, first_failure),
        detection_s=_seconds(first_failure, opened),
        notification_s=_seconds(opened, notified),
        acknowledgement_s=_seconds(notified or opened, acked),
        outcome=_outcome(first_failure, opened, notified, acked),
    )


def finish(db: Store, settings: Settings, drill_id: int, now: datetime, aborted: bool = False) -> DrillReport:
    """Store the final report. An aborted drill also ends the injected failures now."""
    report = measure(db, settings, drill_id, now)
    with sql.write(db):
        if aborted:
            store.end_failures_now(db, drill_id, now)
        store.finish_drill(db, drill_id, "aborted" if aborted else "completed", report.as_dict(), now)
    return report


def _outcome(
    failure: datetime | None, opened: datetime | None, notified: datetime | None, acked: datetime | None
) -> str:
    if failure is None:
        return "no injected failure reached the collector (are agents running the component's checks?)"
    if opened is None:
        return "no incident opened yet"
    if notified is None:
        return "incident opened; nobody paged yet (is an escalation policy with channels configured?)"
    if acked is None:
        return "paged; not acknowledged yet"
    return "acknowledged"


def _iso(moment: datetime | None) -> str | None:
    return to_iso(moment) if moment else None


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round(max(0.0, (end - start).total_seconds()), 3)
