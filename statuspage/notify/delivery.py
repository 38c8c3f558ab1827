"""Delivering the outbox: claim due rows, send them concurrently, record each outcome.

Concurrency is budgeted per lane (smtp, http, apprise, log), so a slow mail
relay never starves webhooks and the reverse. Within a lane each destination
has at most one message in flight: a slow or dead receiver holds one slot
(for at most its request timeout) and its messages stay in order, while every
other destination proceeds. Claims are leased (`notify.lease_s`); a row is
marked delivered right after its send succeeds, so a killed worker leaves at
most the rows it was sending to be sent again (same idempotency key) when
the lease expires.

Failures carry their decision (channels.base.DeliveryError): temporary ones
are retried with exponential backoff (`backoff_base_s` doubling up to
`backoff_max_s`, with a fixed per-row spread so retries do not arrive in
lockstep) until `max_attempts`; permanent ones stop at once. Destination
health is tracked in `destinations` (see destinations.py).

All database work happens on the loop's thread with one connection, in
short statements; the network is never touched inside a transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import aiohttp

from shared.timeutil import Clock
from statuspage.netguard import OutboundPolicy, guarded_connector
from statuspage.notify import destinations, outbox
from statuspage.notify.channels.base import DeliveryContext
from statuspage.notify.channels.registry import KINDS, kinds_of_lane
from statuspage.notify.delivery_error import DeliveryError
from statuspage.notify.outbox import OutboxRow
from statuspage.notify.smtp import SmtpPool
from statuspage.notify.templates import Renderer
from statuspage.settings import Settings
from statuspage.storage import sql
from statuspage.storage.sql import Store  # noqa: I001

log = logging.getLogger(__name__)

POLL_S = 0.5  # how often an idle lane looks for newly due rows


@dataclass
class DeliveryStats:
    delivered: int = 0
    retried: int = 0
    failed: int = 0
    by_lane: Counter[str] = field(default_factory=Counter)


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def lane_capacity(settings: Settings) -> dict[str, int]:
    """In-flight sends per lane. SMTP tasks queue for the pool's connections, so the lane
    holds a few per connection to keep every connection busy."""
    return {
        "smtp": settings.smtp.max_connections * 8,
        "http": settings.notify.concurrency,
        "apprise": 4,
        "log": 8,
    }


def backoff(settings: Settings, attempts: int, row_id: int) -> timedelta:
    """Delay before attempt `attempts + 1`: base * 2^(attempts-1), capped, spread by up to 10%."""
    config = settings.notify
    delay = min(config.backoff_base_s * 2 ** max(attempts - 1, 0), config.backoff_max_s)
    spread = (row_id * 2654435761 % 1000) / 10_000  # 0 .. 0.1, fixed per row
    return timedelta(seconds=delay * (1 + spread))


@contextlib.asynccontextmanager
async def delivery_context(settings: Settings, clock: Clock) -> AsyncIterator[DeliveryContext]:
    """The shared resources of a delivery run: HTTP sessions (plain and SSRF-guarded), SMTP pool."""
    smtp = SmtpPool(settings.smtp)
    timeout = aiohttp.ClientTimeout(total=settings.notify.request_timeout_s)
    limit = settings.notify.concurrency
    policy = OutboundPolicy.from_strings(settings.security.outbound_allow)
    try:
        async with (
            aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=limit), timeout=timeout, trust_env=False
            ) as http,
            aiohttp.ClientSession(
                connector=guarded_connector(policy, limit=limit), timeout=timeout, trust_env=False
            ) as guarded,
        ):
            yield DeliveryContext(
                settings, Renderer(settings.notify.templates_dir), clock, http, guarded, smtp
            )
    finally:
        await asyncio.to_thread(smtp.close)


async def deliver(
    settings: Settings,
    clock: Clock,
    *,
    until_idle: bool = True,
    stop: threading.Event | None = None,
    wake: threading.Event | None = None,
    worker_id: str | None = None,
) -> DeliveryStats:
    """Deliver due rows. With `until_idle`, return once nothing is due or in flight
    (tests, benchmarks); otherwise run until `stop` is set (the worker's thread)."""
    db = sql.open_store(settings.database)
    try:
        async with delivery_context(settings, clock) as ctx:
            dispatcher = Dispatcher(db, ctx, worker_id or new_worker_id())
            return await dispatcher.run(until_idle, stop, wake)
    finally:
        sql.close(db)


async def send_now(settings: Settings, clock: Clock, row: OutboxRow) -> None:
    """Send one message directly, outside the outbox (`channel test`); raise DeliveryError on failure."""
    db = sql.open_store(settings.database)
    try:
        async with delivery_context(settings, clock) as ctx:
            kind = KINDS[row.destination_kind]
            await kind.send(kind.prepare(row, ctx, db), ctx)
    finally:
        sql.close(db)


class Dispatcher:
    """Keeps each lane's budget of sends in flight and records their outcomes."""

    def __init__(self, db: Store, ctx: DeliveryContext, worker_id: str):
        self.db = db
        self.ctx = ctx
        self.settings = ctx.settings
        self.worker_id = worker_id
        self.capacity = lane_capacity(ctx.settings)
        self.lease = timedelta(seconds=ctx.settings.notify.lease_s)
        self.disable_after = timedelta(seconds=ctx.settings.notify.disable_after_s)
        self.inflight: dict[asyncio.Task[None], tuple[OutboxRow, str]] = {}
        self.busy: set[tuple[str, str]] = set()
        self.lane_load: Counter[str] = Counter()
        self.next_poll: dict[str, float] = dict.fromkeys(self.capacity, 0.0)
        self.troubled: dict[tuple[str, str], bool] = {}  # destination -> disabled? (streak or off)
        self.delivered: list[OutboxRow] = []  # sent, to be marked at the end of this loop turn
        self.stats = DeliveryStats()
        # Sends that ended, in order, put there by their done callbacks; `send_ended` wakes the loop.
        self.finished: list[asyncio.Task[None]] = []
        self.send_ended = asyncio.Event()

    async def run(
        self, until_idle: bool, stop: threading.Event | None, wake: threading.Event | None
    ) -> DeliveryStats:
        while not (stop is not None and stop.is_set()):
            if wake is not None and wake.is_set():
                wake.clear()
                self.next_poll = dict.fromkeys(self.capacity, 0.0)
            claimed = self.fill(force=not self.inflight)
            if not self.inflight:
                if until_idle and claimed == 0:
                    break
                await asyncio.sleep(POLL_S / 5)
                continue
            await self.wait_for_a_send(POLL_S)
            finished, self.finished = self.finished, []
            for task in finished:
                self.record(task)
            self.flush()
        await self.drain()
        return self.stats

    async def wait_for_a_send(self, timeout_s: float) -> None:
        """Return when a send has ended (or at once if one has), or after `timeout_s`.

        Not `asyncio.wait(inflight, FIRST_COMPLETED)`: that adds and removes a callback
        on every send in flight each time, which with dozens in flight and one wake-up
        per mail cost about a tenth of upwatch's CPU in bench/notify.py.
        """
        if self.finished:
            return
        self.send_ended.clear()
        timer = asyncio.get_running_loop().call_later(timeout_s, self.send_ended.set)
        try:
            await self.send_ended.wait()
        finally:
            timer.cancel()

    def _send_ended(self, task: asyncio.Task[None]) -> None:
        self.finished.append(task)
        self.send_ended.set()

    async def drain(self) -> None:
        """On stop: let sends in flight finish (bounded by their timeouts) and record them."""
        if self.inflight:
            done, _pending = await asyncio.wait(
                self.inflight, timeout=self.settings.notify.request_timeout_s + 5
            )
            for task in done:
                self.record(task)
            self.flush()
            for task in list(self.inflight):
                task.cancel()  # their leases expire and another pass retries them

    def fill(self, force: bool = False) -> int:
        """Claim due rows for every lane with room; start their sends. Returns rows claimed."""
        claimed = 0
        clock_now = self.ctx.clock()
        for lane, capacity in self.capacity.items():
            load = self.lane_load[lane]
            room = capacity - load
            # Claim in batches of at least half the lane (fewer, larger claim statements).
            if room <= 0 or (load and room < max(1, capacity // 2)):
                continue
            if not force and time.monotonic() < self.next_poll[lane]:
                continue
            rows = outbox.claim(
                self.db, self.worker_id, clock_now, self.lease, kinds_of_lane(lane), self.busy, room
            )
            claimed += len(rows)
            self.troubled.update(destinations.troubled(self.db, [row.destination_key for row in rows]))
            self.next_poll[lane] = time.monotonic() + POLL_S if len(rows) < room else 0.0
            extra = [row.id for row in rows if not self.start(row, lane, clock_now)]
            if extra:  # most fills have none: skip the statement (a profile showed ~1,300 empty ones)
                outbox.release(self.db, extra)
        return claimed

    def start(self, row: OutboxRow, lane: str, now: datetime) -> bool:
        """Begin sending one row; False when its destination already has a send in flight."""
        key = row.destination_key
        if key in self.busy:
            return False
        if self.troubled.get(key):
            outbox.mark_failed(self.db, row.id, "destination disabled", now, attempted=False)
            self.stats.failed += 1
            return True
        kind = KINDS[row.destination_kind]
        try:
            prepared = kind.prepare(row, self.ctx, self.db)
        except DeliveryError as error:
            self.failed(row, error, now)
            return True
        task = asyncio.create_task(kind.send(prepared, self.ctx))
        task.add_done_callback(self._send_ended)
        self.inflight[task] = (row, lane)
        self.busy.add(key)
        self.lane_load[lane] += 1
        return True

    def record(self, task: asyncio.Task[None]) -> None:
        row, lane = self.inflight.pop(task)
        self.busy.discard(row.destination_key)
        self.lane_load[lane] -= 1
        self.next_poll[lane] = 0.0
        now = self.ctx.clock()
        error = None if task.cancelled() else task.exception()
        if task.cancelled():
            error = DeliveryError("cancelled")
        if error is None:
            self.delivered.append(row)
            self.stats.delivered += 1
            self.stats.by_lane[lane] += 1
            return
        if not isinstance(error, DeliveryError):
            log.error("unexpected delivery error id=%s", row.id, exc_info=error)
            error = DeliveryError(f"unexpected error: {error!r}")
        self.failed(row, error, now)

    def flush(self) -> None:
        """Mark this turn's successful sends delivered: one short transaction for the batch."""
        if not self.delivered:
            return
        now = self.ctx.clock()
        with sql.write(self.db):
            outbox.mark_delivered(self.db, [row.id for row in self.delivered], now)
            for row in self.delivered:
                if row.destination_key in self.troubled:
                    destinations.record_success(self.db, row.destination_kind, row.destination, now)
                    self.troubled.pop(row.destination_key, None)
        self.delivered = []

    def failed(self, row: OutboxRow, error: DeliveryError, now: datetime) -> None:
        attempts = row.attempts + 1
        final = error.permanent or attempts >= self.settings.notify.max_attempts
        if final:
            outbox.mark_failed(self.db, row.id, str(error), now)
            self.stats.failed += 1
        else:
            outbox.schedule_retry(self.db, row.id, str(error), now + backoff(self.settings, attempts, row.id))
            self.stats.retried += 1
        log.warning(
            "delivery failed id=%s kind=%s event=%s attempt=%d final=%s error=%s",
            row.id,
            row.destination_kind,
            row.event,
            attempts,
            final,
            error,
        )
        kind, destination = row.destination_key
        self.troubled.setdefault(row.destination_key, False)
        long_failing = destinations.record_failure(
            self.db, kind, destination, str(error), now, self.disable_after
        )
        if error.disable or long_failing:
            self.troubled[row.destination_key] = True
            reason = str(error) if error.disable else f"failing since long: {error}"
            destinations.disable(
                self.db, kind, destination, reason, now, self._operator_channel(), _incident_id(row)
            )

    def _operator_channel(self) -> tuple[str, str] | None:
        channel_id = self.settings.notify.operator_channel
        channel = self.settings.channel(channel_id) if channel_id else None
        return (channel.kind, channel.id) if channel else None


def _incident_id(row: OutboxRow) -> int | None:
    """The incident a channel row is about, when its payload says (escalation messages do)."""
    if row.destination_kind in (outbox.SUBSCRIBER_EMAIL, outbox.SUBSCRIBER_WEBHOOK):
        return None
    value = row.payload.get("incident_id")
    incident = row.payload.get("incident")
    if value is None and isinstance(incident, dict):
        value = incident.get("id")
    return value if isinstance(value, int) else None
