"""Heartbeat checks: the collector's own judgement of pushed pings (never run by agents).

Outcomes feed the same per-(check, location) state as agents' results, under
the location `collector`, so component status, incidents and history treat a
heartbeat like any other check.

- A success ping is an `up` result (with the run's duration when a start preceded it);
  a fail ping, or an exit status other than 0, a `down` result at once.
- Deadlines (pure, `heartbeat_deadline`): the next due time is `period` after the
  last success, or the schedule's next run after it (cron in `tz`, via croniter);
  before any success it counts from when the collector first saw the check.
  Down when the due time plus `grace` passes, or when a start is older than
  `grace` without a success.
- `check_heartbeats`, called from every worker pass, records a `down` result
  for a missed deadline once (and again every `interval` while it stays missed,
  so the location never goes stale and reads "no data").
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

from croniter import croniter

from shared.checks import HeartbeatCheck, validate_timezone
from shared.schema import Result
from shared.timeutil import format_duration
from statuspage.evaluate import apply_results
from statuspage.settings import Settings
from statuspage.storage import heartbeats as store
from statuspage.storage import sql
from statuspage.storage.results import insert_results
from statuspage.storage.sql import Store  # noqa: I001

log = logging.getLogger(__name__)

LOCATION = "collector"
MAX_LATENCY_MS = 86_400_000.0  # the wire schema's bound on latency; longer runs keep duration_s


@dataclass(frozen=True)
class Deadline:
    """When the check goes down if nothing arrives, and what the message will say."""

    at: datetime
    reason: str


def heartbeat_checks(settings: Settings) -> list[HeartbeatCheck]:
    return [check for check in settings.checks if isinstance(check, HeartbeatCheck)]


def next_due(check: HeartbeatCheck, reference: datetime) -> datetime:
    """The next time a success ping is expected after `reference` (not counting grace)."""
    if check.period is not None:
        return reference + check.period
    assert check.schedule is not None
    zone = validate_timezone(check.tz)
    following: datetime = croniter(check.schedule, reference.astimezone(zone)).get_next(datetime)
    return following


def heartbeat_deadline(
    check: HeartbeatCheck, heartbeat: store.Heartbeat, open_start: datetime | None
) -> Deadline:
    """The earliest moment the check counts as down, with the reason a person reads then."""
    reference = heartbeat.last_success_at or heartbeat.created_at
    due = next_due(check, reference)
    last = (
        f"last success {heartbeat.last_success_at:%Y-%m-%d %H:%M} UTC"
        if heartbeat.last_success_at
        else "no success ping yet"
    )
    deadline = Deadline(
        due + check.grace,
        f"no ping: expected by {due:%Y-%m-%d %H:%M %Z} plus {format_duration(check.grace)} grace ({last})",
    )
    if open_start is not None and open_start + check.grace < deadline.at:
        deadline = Deadline(
            open_start + check.grace,
            f"started at {open_start:%Y-%m-%d %H:%M:%S} UTC, no success within the"
            f" {format_duration(check.grace)} grace",
        )
    return deadline


def should_note_miss(
    check: HeartbeatCheck, heartbeat: store.Heartbeat, deadline: Deadline, now: datetime
) -> bool:
    """True when the deadline has passed and the miss is not yet recorded (or was recorded an
    `interval` ago, so the location stays live)."""
    if now <= deadline.at:
        return False
    if heartbeat.missed_deadline != deadline.at or heartbeat.missed_noted_at is None:
        return True
    return now - heartbeat.missed_noted_at >= check.interval


def check_heartbeats(db: Store, settings: Settings, now: datetime) -> list[str]:
    """The worker's pass: give new heartbeats keys (and the installation its ping key), record
    missed deadlines. Returns the ids noted."""
    checks = heartbeat_checks(settings)
    if not checks:
        # Auto-provisioning needs the ping key before any heartbeat check exists.
        if settings.heartbeats.auto_create_component is not None and store.ping_key(db) is None:
            with sql.write(db):
                store.ensure_ping_key(db, now)
        return []
    noted: list[str] = []
    with sql.write(db):
        store.ensure_keys(db, [check.id for check in checks], now)
        store.ensure_ping_key(db, now)
        stored = store.load_heartbeats(db)
        for check in checks:
            heartbeat = stored[check.id]
            open_start = store.oldest_open_start(db, check.id, heartbeat.last_success_at)
            deadline = heartbeat_deadline(check, heartbeat, open_start)
            if not should_note_miss(check, heartbeat, deadline, now):
                continue
            result = Result(
                id=uuid.uuid4(),
                check_id=check.id,
                started_at=now,
                latency_ms=0.0,
                status="down",
                error=deadline.reason[:1000],
                detail={"missed_deadline": deadline.at.isoformat()},
            )
            insert_results(db, LOCATION, [result], now)
            apply_results(db, settings, LOCATION, [result])
            store.note_miss(db, check.id, deadline.at, now)
            noted.append(check.id)
    for check_id in noted:
        log.info("heartbeat missed check=%s", check_id)
    return noted


def record_ping(db: Store, settings: Settings, check: HeartbeatCheck, ping: store.Ping) -> Result | None:
    """Store a ping; for an end (success or failure) also record the result it means.

    Returns that result (None for start and log pings). Call outside a transaction.
    """
    with sql.write(db):
        duration_s: float | None = None
        if ping.kind in ("success", "fail"):
            started = store.close_start(db, check.id, ping.rid, ping.at)
            if started is not None:
                duration_s = max(0.0, (ping.at - started).total_seconds())
        store.insert_ping(db, check.id, ping, duration_s)
        if ping.kind not in ("success", "fail"):
            return None
        result = _result(check, ping, duration_s)
        insert_results(db, LOCATION, [result], ping.at)
        apply_results(db, settings, LOCATION, [result])
    return result


def _result(check: HeartbeatCheck, ping: store.Ping, duration_s: float | None) -> Result:
    metrics: dict[str, float] = {}
    if duration_s is not None:
        metrics["duration_s"] = round(duration_s, 3)
    if ping.exit_status is not None:
        metrics["exit_status"] = float(ping.exit_status)
    error = None
    if ping.kind == "fail":
        error = (
            f"the job reported exit status {ping.exit_status}"
            if ping.exit_status
            else "the job reported failure"
        )
        if ping.body:
            error += f": {ping.body.strip().splitlines()[-1][:300]}" if ping.body.strip() else ""
    return Result(
        id=uuid.uuid4(),
        check_id=check.id,
        started_at=ping.at,
        latency_ms=min(MAX_LATENCY_MS, round((duration_s or 0.0) * 1000, 3)),
        status="up" if ping.kind == "success" else "down",
        error=error,
        metrics=metrics,
        detail={"rid": ping.rid, "body_excerpt": (ping.body or "")[:500] or None},
    )


def ping_url(settings: Settings, key: str) -> str:
    return f"{settings.page.url}/ping/{key}"


def check_by_slug(settings: Settings, slug: str) -> HeartbeatCheck | None:
    """The heartbeat check whose slug URL this is (slugs are unique: the config refuses duplicates)."""
    return next((check for check in heartbeat_checks(settings) if check.ping_slug == slug), None)


def slug_url(settings: Settings, ping_key: str, slug: str) -> str:
    return f"{settings.page.url}/ping/{ping_key}/{slug}"
