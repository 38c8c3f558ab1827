"""Benchmark: one incident fanned out to 10,000 email subscribers and 100 webhooks.

Real servers on loopback, each in its own process like a real relay and
receiver: an aiosmtpd SMTP server and an aiohttp webhook receiver, both
counting what they accept. Measures the time from the incident update to the
last delivery, through the same code the worker runs (fan-out, then the
delivery loop). Target: < 60 s.

    .venv/bin/python bench/notify.py [--subscribers 10000] [--webhooks 100] [--profile FILE]

`--profile FILE` writes a cProfile of the fan-out and delivery (this process only) to FILE and
prints its top frames by own time; CPU per notification is the load-independent figure.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import multiprocessing
import os
import pstats
import socket
import sys
import tempfile
import time
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shared.timeutil import utcnow  # noqa: E402
from statuspage import incidents  # noqa: E402
from statuspage.db import open_and_migrate  # noqa: E402
from statuspage.notify import outbox, subscriptions  # noqa: E402
from statuspage.notify.delivery import deliver  # noqa: E402
from statuspage.notify.fanout import fan_out  # noqa: E402
from statuspage.settings import load_settings  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def smtp_server(port: int, counter: Synchronized[int], ready: Any) -> None:
    from aiosmtpd.controller import Controller

    class Count:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            with counter.get_lock():
                counter.value += 1
            return "250 OK"

    controller = Controller(Count(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    while True:
        time.sleep(3600)


def webhook_server(port: int, counter: Synchronized[int], ready: Any) -> None:
    from aiohttp import web

    async def receive(request: web.Request) -> web.Response:
        await request.read()
        with counter.get_lock():
            counter.value += 1
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/{tail:.*}", receive)

    async def main() -> None:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        ready.set()
        await asyncio.Event().wait()

    asyncio.run(main())


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc), to report load-independent cost."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--webhooks", type=int, default=100)
    parser.add_argument("--smtp-connections", type=int, default=4)
    parser.add_argument("--profile", type=Path, help="write a cProfile of fan-out + delivery here")
    args = parser.parse_args()

    context = multiprocessing.get_context("spawn")
    mails, hooks = context.Value("i", 0), context.Value("i", 0)
    smtp_port, http_port = free_port(), free_port()
    smtp_ready, http_ready = context.Event(), context.Event()
    servers = [
        context.Process(target=smtp_server, args=(smtp_port, mails, smtp_ready), daemon=True),
        context.Process(target=webhook_server, args=(http_port, hooks, http_ready), daemon=True),
    ]
    for process in servers:
        process.start()
    smtp_ready.wait(30)
    http_ready.wait(30)

    with tempfile.TemporaryDirectory() as folder:
        settings = load_settings(
            environ={},
            database=os.path.join(folder, "bench.db"),
            page={"name": "Bench", "url": "https://status.bench.test"},
            components=[{"id": "api", "name": "API"}],
            smtp={
                "host": "127.0.0.1",
                "port": smtp_port,
                "security": "none",
                "max_connections": args.smtp_connections,
            },
        )
        db = open_and_migrate(settings.database)
        now = utcnow()
        with db.conn:
            db.conn.executemany(
                "INSERT INTO subscribers (email, status, unsubscribe_token, created_at)"
                " VALUES (?, 'confirmed', ?, ?)",
                [
                    (f"user{i}@bench.example.com", f"se_bench{i}", "2026-01-01T00:00:00.000+00:00")
                    for i in range(args.subscribers)
                ],
            )
        for i in range(args.webhooks):
            subscriptions.create_webhook_subscription(
                db, settings, f"http://127.0.0.1:{http_port}/hook/{i}", [], now
            )
        expected = args.subscribers + args.webhooks

        cpu_before = time.process_time()
        servers_before = [cpu_seconds(p.pid or 0) for p in servers]
        # CPU time, not wall time: on a loaded machine wall time mostly measures waiting.
        profiler = cProfile.Profile(time.process_time) if args.profile else None
        if profiler:
            profiler.enable()
        started = time.monotonic()
        incidents.create_incident(
            db,
            settings,
            title="API down",
            body="Investigating",
            actor="bench",
            now=utcnow(),
            components={"api": "major_outage"},
        )
        queued = fan_out(db, settings, utcnow())
        fanned = time.monotonic()
        stats = asyncio.run(deliver(settings, utcnow))
        delivered = time.monotonic()
        if profiler:
            profiler.disable()
        while (mails.value + hooks.value) < expected and time.monotonic() - delivered < 10:
            time.sleep(0.05)
        counts = outbox.counts(db)
        db.conn.close()
        cpu_self = time.process_time() - cpu_before
        cpu_smtp, cpu_http = (
            cpu_seconds(p.pid or 0) - b for p, b in zip(servers, servers_before, strict=True)
        )
        load = os.getloadavg()[0]

    total_s = delivered - started
    print(f"notify benchmark ({os.cpu_count()} cores; SMTP and receiver in their own processes)")
    print(
        f"  subscribers={args.subscribers} webhooks={args.webhooks} smtp_connections={args.smtp_connections}"
    )
    print(f"  outbox rows queued by fan-out: {queued} in {fanned - started:.2f} s")
    print(f"  delivered={stats.delivered} retried={stats.retried} failed={stats.failed} outbox={counts}")
    print(f"  received: mails={mails.value} webhooks={hooks.value}")
    print(f"  time until all delivered: {total_s:.2f} s ({expected / total_s:.0f} notifications/s)")
    print(
        f"  CPU seconds: upwatch {cpu_self:.1f} (fan-out + delivery), smtp server {cpu_smtp:.1f},"
        f" webhook receiver {cpu_http:.1f}; load average at the end {load:.1f}"
    )
    print(f"  upwatch CPU per notification: {cpu_self * 1000 / expected:.2f} ms")
    if profiler:
        profiler.dump_stats(args.profile)
        pstats.Stats(str(args.profile)).sort_stats("tottime").print_stats(25)
    print(
        f"  target < 60 s: {'met' if total_s < 60 and mails.value + hooks.value >= expected else 'NOT met'}"
    )
    for process in servers:
        process.terminate()
    return 0 if total_s < 60 else 1


if __name__ == "__main__":
    sys.exit(main())
