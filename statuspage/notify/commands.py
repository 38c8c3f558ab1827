"""CLI commands for notifications: `channel test|list|enable`, `webhook add|list|remove`,
`outbox status`. Wired into statuspage.cli; documented in docs/cli.md."""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid

from shared.timeutil import to_iso, utcnow
from statuspage.db import open_store_and_migrate
from statuspage.netguard import check_url
from statuspage.notify import destinations, outbox, subscriptions
from statuspage.notify.delivery import send_now
from statuspage.notify.delivery_error import DeliveryError
from statuspage.notify.outbox import OutboxRow
from statuspage.settings import Settings

COMMANDS = ("channel", "webhook", "outbox")


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    channel = sub.add_parser("channel", help="team channels: test, list, re-enable")
    channel_sub = channel.add_subparsers(dest="channel_command", required=True)
    test = channel_sub.add_parser("test", help="send a test message through a channel now")
    test.add_argument("name", help="the channel's id from [[channels]]")
    channel_sub.add_parser("list", help="list channels with their delivery health")
    enable = channel_sub.add_parser("enable", help="re-enable a channel disabled after failing")
    enable.add_argument("name")

    webhook = sub.add_parser("webhook", help="operator-registered webhook subscriptions")
    webhook_sub = webhook.add_subparsers(dest="webhook_command", required=True)
    add = webhook_sub.add_parser("add", help="register a webhook; prints its signing secret once")
    add.add_argument("url")
    add.add_argument("--component", action="append", default=[], help="only these components; repeat")
    add.add_argument("--description", default="", help="a note for operators")
    webhook_sub.add_parser("list", help="list webhook subscriptions")
    remove = webhook_sub.add_parser("remove", help="remove a webhook subscription")
    remove.add_argument("id", type=int)
    webhook_enable = webhook_sub.add_parser("enable", help="re-enable a webhook disabled after failing")
    webhook_enable.add_argument("id", type=int)

    outbox_parser = sub.add_parser("outbox", help="notification queue")
    outbox_sub = outbox_parser.add_subparsers(dest="outbox_command", required=True)
    outbox_sub.add_parser("status", help="count pending, delivered and failed notifications")


def run(settings: Settings, args: argparse.Namespace) -> int:
    handlers = {"channel": _channel, "webhook": _webhook, "outbox": _outbox}
    return handlers[args.command](settings, args)


def _channel(settings: Settings, args: argparse.Namespace) -> int:
    db = open_store_and_migrate(settings.database)
    if args.channel_command == "list":
        for item in settings.channels:
            found = destinations.state(db, item.kind, item.id)
            health = "ok"
            if found and found.disabled_at:
                health = f"DISABLED since {found.disabled_at}: {found.disabled_reason}"
            elif found and found.consecutive_failures:
                health = f"failing x{found.consecutive_failures}: {found.last_error}"
            print(f"{item.id}\t{item.kind}\t{health}")
        return 0
    channel = settings.channel(args.name)
    if channel is None:
        known = ", ".join(c.id for c in settings.channels) or "none configured"
        print(f"no channel {args.name!r} (channels: {known})", file=sys.stderr)
        return 2
    if args.channel_command == "enable":
        if destinations.enable(db, channel.kind, channel.id):
            print(f"channel {channel.id!r} enabled again")
        else:
            print(f"channel {channel.id!r} was not disabled")
        return 0
    now = utcnow()
    row = OutboxRow(
        id=0,
        event="channel.test",
        destination_kind=channel.kind,
        destination=channel.id,
        payload={
            "title": f"Test message from {settings.page.name}",
            "body": f"This is a test of the channel {channel.label!r} sent at {to_iso(now)}.",
            "url": settings.page.url,
        },
        idempotency_key=f"channel-test:{channel.id}:{uuid.uuid4().hex}",
        attempts=0,
        created_at=to_iso(now),
    )
    try:
        asyncio.run(send_now(settings, utcnow, row))
    except DeliveryError as error:
        print(f"channel {channel.id!r}: sending failed: {error}", file=sys.stderr)
        return 1
    print(f"channel {channel.id!r}: test message sent")
    return 0


def _webhook(settings: Settings, args: argparse.Namespace) -> int:
    db = open_store_and_migrate(settings.database)
    if args.webhook_command == "list":
        for item in subscriptions.list_webhooks(db):
            scope = ",".join(item.components) or "all"
            note = f"\t{item.disabled_reason}" if item.disabled_reason else ""
            print(f"{item.id}\t{item.status}\t{item.origin}\t{scope}\t{item.url}{note}")
        return 0
    if args.webhook_command == "enable":
        if not subscriptions.enable_webhook(db, args.id):
            print(f"webhook subscription {args.id} is not disabled", file=sys.stderr)
            return 1
        print(f"webhook subscription {args.id} enabled again")
        return 0
    if args.webhook_command == "remove":
        if not subscriptions.remove_webhook(db, args.id, utcnow()):
            print(f"no webhook subscription {args.id}", file=sys.stderr)
            return 1
        print(f"removed webhook subscription {args.id}")
        return 0
    if not args.url.startswith(("http://", "https://")):
        print("url: must start with http:// or https://", file=sys.stderr)
        return 2
    try:
        check_url(args.url)
    except ValueError:
        # Operators may register private receivers on purpose; say so, then go on.
        print("note: this url is not a public address; operator webhooks may be", file=sys.stderr)
    known = {c.id for c in settings.components}
    unknown = [c for c in args.component if c not in known]
    if unknown:
        print(f"--component: unknown component {unknown[0]!r}", file=sys.stderr)
        return 2
    webhook_id, secret = subscriptions.create_webhook_subscription(
        db, settings, args.url, sorted(set(args.component)), utcnow(), "operator", args.description
    )
    print(f"registered webhook {webhook_id}; its signing secret (shown only now):")
    print(secret)
    return 0


def _outbox(settings: Settings, _args: argparse.Namespace) -> int:
    db = open_store_and_migrate(settings.database)
    counts = outbox.counts(db)
    print(" ".join(f"{key}={value}" for key, value in counts.items()))
    return 0
