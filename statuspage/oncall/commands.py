"""`upwatch-statuspage oncall show | verify | feeds`: who is on call, contact verification, ICS URLs."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta

from shared.timeutil import utcnow
from statuspage.oncall import paging, service
from statuspage.oncall.rotation import shifts
from statuspage.settings import Settings
from statuspage.storage import sql

COMMANDS = ("oncall",)


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    oncall = sub.add_parser("oncall", help="who is on call; verify contact methods; calendar feeds")
    oncall_sub = oncall.add_subparsers(dest="oncall_command", required=True)
    show = oncall_sub.add_parser("show", help="who is on call for a schedule now (or --at T) and next")
    show.add_argument("schedule", help="the schedule's id")
    show.add_argument("--at", help="ISO 8601 time, e.g. 2026-12-24T20:00 (local to the schedule) or ...Z")
    show.add_argument("--weeks", type=int, default=2, help="how far ahead to list shifts (default 2)")
    verify = oncall_sub.add_parser("verify", help="send a verification link to a responder's contact")
    verify.add_argument("responder", help="the responder's name")
    verify.add_argument("contact", help="the contact method's id")
    oncall_sub.add_parser("feeds", help="print the secret ICS feed URL of every schedule and responder")


def parse_at(text: str, zone: str) -> datetime:
    """An ISO time; without an offset it is local to the schedule's zone. ValueError otherwise."""
    from zoneinfo import ZoneInfo

    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(zone))
    return moment.astimezone(UTC)


def run(settings: Settings, args: argparse.Namespace) -> int:
    from statuspage.db import open_store_and_migrate

    db = open_store_and_migrate(settings.database)
    try:
        if args.oncall_command == "show":
            return _show(db, settings, args)
        if args.oncall_command == "verify":
            try:
                with sql.write(db):
                    paging.send_verification(db, settings, args.responder, args.contact, utcnow())
            except service.OncallInputError as error:
                print(f"upwatch-statuspage: {error}", file=sys.stderr)
                return 1
            print(f"verification link queued for {args.responder}/{args.contact}; the worker sends it")
            return 0
        for schedule in service.all_schedules(db, settings):
            print(f"schedule {schedule.id}\t{service.feed_url(db, settings, 'schedule', schedule.id)}")
        for responder in service.all_responders(db, settings):
            print(
                f"responder {responder.name}\t{service.feed_url(db, settings, 'responder', responder.name)}"
            )
        return 0
    finally:
        sql.close(db)


def _show(db: sql.Store, settings: Settings, args: argparse.Namespace) -> int:
    found = service.find_schedule(db, settings, args.schedule)
    schedule = found.config if found else None
    if schedule is None:
        known = ", ".join(s.id for s in service.all_schedules(db, settings)) or "none configured"
        print(f"upwatch-statuspage: no schedule {args.schedule!r} (known: {known})", file=sys.stderr)
        return 1
    try:
        at = parse_at(args.at, schedule.tz) if args.at else utcnow()
    except ValueError:
        print(f"upwatch-statuspage: --at: not an ISO 8601 time: {args.at!r}", file=sys.stderr)
        return 1
    if not 1 <= args.weeks <= 26:
        print("upwatch-statuspage: --weeks: between 1 and 26", file=sys.stderr)
        return 1
    zone = schedule.to_schedule().zone
    labels = service.responder_labels(db, settings)
    current = service.who(db, settings, schedule.id, at)
    local = at.astimezone(zone)
    name = labels.get(current.responder or "", "nobody")
    why = f" (layer {current.layer})" if current.layer else ""
    if current.override_id is not None:
        why = f" (override #{current.override_id})"
    print(f"{schedule.label} at {local:%Y-%m-%d %H:%M %Z}: {name}{why}")
    spans = shifts(service.schedule_timeline(db, settings, schedule.id, at, at + timedelta(weeks=args.weeks)))
    for span in spans:
        who = labels.get(span.responder, span.responder) if span.responder else "GAP: nobody on call"
        start, end = span.start.astimezone(zone), span.end.astimezone(zone)
        print(f"  {start:%a %Y-%m-%d %H:%M} - {end:%a %Y-%m-%d %H:%M %Z}  {who}")
    return 0
