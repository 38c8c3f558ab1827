"""Handoff notices: when a shift starts, the incoming responder (and the schedule's
`handoff_channel`, if set) is told. Run by the worker every pass.

Progress is durable: `engine_state['oncall_handoffs_until']` is the instant
up to which handoffs were announced. A pass announces the shifts that began
after it and up to now, so a worker that was down catches up (at most one
day back; older handoffs are stale news). Each notice's idempotency key
names schedule, shift start and person, so a retried pass never repeats one.
The first pass ever only sets the mark: nobody hears about shifts that
began before upwatch was watching.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from shared.timeutil import to_iso
from statuspage.notify.outbox import enqueue_channel_message
from statuspage.oncall import paging, service
from statuspage.oncall.rotation import handoffs
from statuspage.settings import Settings
from statuspage.storage import oncall as store
from statuspage.storage import sql
from statuspage.storage.engine_state import get_time, set_time

log = logging.getLogger(__name__)
MARK = "oncall_handoffs_until"
CATCH_UP = timedelta(days=1)


def announce_handoffs(db: sql.Store, settings: Settings, now: datetime) -> int:
    """Queue notices for shifts that began since the last pass; return rows queued."""
    schedules = [entry.config for entry in service.all_schedules(db, settings)]
    if not schedules:
        return 0
    queued = 0
    with sql.write(db):
        since = get_time(db, MARK)
        set_time(db, MARK, now)
        if since is None or since >= now:
            return 0
        since = max(since, now - CATCH_UP)
        for schedule in schedules:
            if not schedule.handoff_notices:
                continue
            spans = service.schedule_timeline(db, settings, schedule.id, since, now + timedelta(seconds=1))
            for shift in handoffs(spans):
                if not since < shift.start <= now or shift.responder is None:
                    continue
                queued += _notify(db, settings, schedule.id, shift.responder, shift.start, shift.end, now)
    if queued:
        log.info("handoff notices queued=%d", queued)
    return queued


def _notify(
    db: sql.Store, settings: Settings, schedule_id: str, responder_name: str, start: datetime, end: datetime,
    now: datetime,
) -> int:  # fmt: skip
    found = service.find_schedule(db, settings, schedule_id)
    responder = service.responder(db, settings, responder_name)
    if found is None or responder is None:
        return 0
    schedule = found.config
    zone = schedule.to_schedule().zone
    title = f"You are on call for {schedule.label}"
    body = (
        f"{responder.label}, your shift for {schedule.label} started at"
        f" {start.astimezone(zone):%a %Y-%m-%d %H:%M %Z}."
    )
    key = f"oncall:handoff:{schedule.id}:{to_iso(start)}:{responder.name}"
    queued = 0
    verified = service.verified_contact_ids(db, responder)
    for contact in responder.contacts:
        if contact.id not in verified:
            continue
        queued += store.enqueue_page(
            db,
            event="oncall.handoff",
            destination_kind=paging.destination_kind(contact),
            destination=f"{responder.name}/{contact.id}",
            payload={"title": title, "body": body, "schedule": schedule.id, "starts_at": to_iso(start)},
            idempotency_key=f"{key}:{contact.id}",
            now=now,
            due_at=now,
        )
    channel = settings.channel(schedule.handoff_channel) if schedule.handoff_channel else None
    if channel is not None:
        text = f"{responder.label} is now on call for {schedule.label}."
        queued += enqueue_channel_message(
            db, channel.id, channel.kind, "oncall.handoff", f"{key}:channel:{channel.id}", title, text, now
        )
    return queued
