"""`upwatch-statuspage heartbeat list | rotate-key CHECK | rotate-ping-key | forget SLUG`: heartbeat
ping URLs, and removing a check a ping created (`?create=1`)."""

from __future__ import annotations

import argparse
import sys

from shared.timeutil import utcnow
from statuspage.auto_heartbeats import forget, is_auto_created, merged
from statuspage.heartbeats import heartbeat_checks, ping_url, slug_url
from statuspage.settings import Settings
from statuspage.storage import sql  # noqa: I001

COMMANDS = ("heartbeat",)


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    heartbeat = sub.add_parser("heartbeat", help="ping keys and URLs of heartbeat checks")
    heartbeat_sub = heartbeat.add_subparsers(dest="heartbeat_command", required=True)
    heartbeat_sub.add_parser("list", help="print each heartbeat check's ping key and URL")
    rotate = heartbeat_sub.add_parser("rotate-key", help="give a heartbeat check a new ping key")
    rotate.add_argument("check", help="the heartbeat check's id")
    heartbeat_sub.add_parser(
        "rotate-ping-key", help="give the installation a new ping key (every slug URL changes)"
    )
    forget = heartbeat_sub.add_parser("forget", help="remove a heartbeat check a ping created (?create=1)")
    forget.add_argument("slug", help="the auto-created check's slug")


def run(settings: Settings, args: argparse.Namespace) -> int:
    from statuspage.db import open_store_and_migrate
    from statuspage.storage import heartbeats as store

    db = open_store_and_migrate(settings.database)
    try:
        if args.heartbeat_command == "forget":
            return _forget(db, settings, args.slug)
        settings = merged(db, settings)
        checks = heartbeat_checks(settings)
        with sql.write(db):
            store.ensure_keys(db, [check.id for check in checks], utcnow())
            ping_key = store.ensure_ping_key(db, utcnow())
        if args.heartbeat_command == "rotate-ping-key":
            with sql.write(db):
                ping_key = store.rotate_ping_key(db, utcnow())
            print(f"new ping key (slug URLs with the old one stop working now): {ping_key}")
            return 0
        if args.heartbeat_command == "rotate-key":
            if args.check not in {check.id for check in checks}:
                print(f"no heartbeat check {args.check!r} in the configuration", file=sys.stderr)
                return 1
            with sql.write(db):
                key = store.rotate_key(db, args.check)
            assert key is not None
            print(f"new ping URL of {args.check} (the old one stops working now):")
            print(ping_url(settings, key))
            return 0
        stored = store.load_heartbeats(db)
        if not checks:
            print("(no heartbeat checks configured)")
        for check in checks:
            key = stored[check.id].ping_key
            slug = check.ping_slug
            by_slug = slug_url(settings, ping_key, slug) if slug else "(no slug: its id has a '.')"
            made = "\tauto-created" if is_auto_created(check.id) else ""
            print(f"{check.id}\t{key}\t{ping_url(settings, key)}\t{by_slug}{made}")
        return 0
    finally:
        sql.close(db)


def _forget(db: sql.Store, settings: Settings, slug: str) -> int:
    declared = next((c for c in heartbeat_checks(settings) if c.ping_slug == slug), None)
    if declared is not None:
        print(
            f"slug {slug!r} is the declared check {declared.id!r}: remove it from the configuration",
            file=sys.stderr,
        )
        return 1
    check_id = forget(db, slug)
    if check_id is None:
        print(f"no auto-created heartbeat check with slug {slug!r}", file=sys.stderr)
        return 1
    # A job still pinging with ?create=1 would make it again: say so.
    print(
        f"removed {check_id}; its results stay until raw_retention. A job pinging"
        f" .../{slug}?create=1 creates it again: drop create=1 from its URL first."
    )
    return 0
