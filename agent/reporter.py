"""Ships spooled results to the collector in batches; ack = delete.

Contract:
- Every result goes into the on-disk spool (`agent.spool`) before anything is
  sent; only ids the collector acknowledged are deleted from it.
- A batch holds at most `batch_size` results and leaves when it is full or when
  `report_interval_s` has passed (so no result waits longer than about that,
  while the collector answers). A backlog (after an outage) goes out batch after
  batch without waiting.
- A heartbeat (a report without results) goes out when nothing was sent for
  `heartbeat_interval_s`, so the collector knows the agent is alive.
- Connection errors, timeouts, 401/403/408/429 and 5xx are transient: retry with
  exponential backoff and jitter, capped at `backoff_max_s`.
- A 4xx that names bad results sets those results aside (reason logged and kept
  in the spool's `set_aside` table) and the rest is sent again at once; a
  permanent 4xx that names none sets the whole batch aside, except 413 which
  first halves the batch size. Set-aside results never block later ones.
- Every report carries `dropped`, the spool's cumulative count of results the
  size cap dropped, only when it is not zero (older collectors do not know it).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random

from agent import __version__
from agent.client import CollectorClient, CollectorError
from agent.spool import Spool, Spooled
from shared.schema import MAX_RESULTS_PER_REPORT, PROTOCOL_VERSION, Result
from shared.timeutil import Clock, to_iso, utcnow

log = logging.getLogger(__name__)

BACKOFF_BASE_S = 0.5


class Reporter:
    """Feeds the spool (`add`) and drains it to the collector (`run`)."""

    def __init__(
        self,
        client: CollectorClient,
        spool: Spool,
        agent_name: str,
        *,
        report_interval_s: float = 2.0,
        heartbeat_interval_s: float = 30.0,
        batch_size: int = 500,
        backoff_max_s: float = 60.0,
        clock: Clock = utcnow,
    ):
        self._client = client
        self._spool = spool
        self._agent_name = agent_name
        self._report_interval_s = report_interval_s
        self._heartbeat_interval_s = heartbeat_interval_s
        self._batch_size = max(1, min(batch_size, MAX_RESULTS_PER_REPORT))
        self._backoff_max_s = backoff_max_s
        self._clock = clock
        self._wakeup = asyncio.Event()
        self._last_sent = float("-inf")

    @property
    def pending(self) -> int:
        return self._spool.pending

    async def add(self, result: Result) -> None:
        """Spool a result (durably, before returning); wake the sender when a batch is full."""
        dropped = self._spool.put(result)
        if dropped:
            log.warning(
                "spool full: dropped oldest results count=%d dropped_total=%d max_bytes=%d",
                dropped,
                self._spool.dropped_total,
                self._spool.max_bytes,
            )
        if self._spool.pending >= self._batch_size:
            self._wakeup.set()

    async def run(self) -> None:
        """Send batches forever; returns only when cancelled."""
        loop = asyncio.get_running_loop()
        failures = 0
        while True:
            try:
                await asyncio.wait_for(self._wakeup.wait(), timeout=self._report_interval_s)
            except TimeoutError:
                pass
            self._wakeup.clear()
            heartbeat_due = loop.time() - self._last_sent >= self._heartbeat_interval_s
            if not self._spool.pending and not heartbeat_due:
                continue
            try:
                await self.drain()
                failures = 0
            except CollectorError as error:
                failures += 1
                delay = self.backoff_delay(failures)
                log.warning(
                    "report failed error=%s pending=%d retry_in_s=%.2f", error, self._spool.pending, delay
                )
                await asyncio.sleep(delay)

    def backoff_delay(self, failures: int) -> float:
        """Exponential in the number of consecutive failures, capped, with jitter (half to full)."""
        ceiling = min(self._backoff_max_s, BACKOFF_BASE_S * 2 ** min(failures - 1, 20))
        return ceiling * random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not security

    async def drain(self) -> None:
        """Send until the spool is empty (at least one report, a heartbeat if empty).

        Raises CollectorError on a transient failure (the caller backs off).
        """
        while True:
            await self.send_once()
            if not self._spool.pending:
                return

    async def send_once(self) -> int:
        """Send one batch (empty = heartbeat); return how many results were acknowledged.

        Raises CollectorError for transient failures. Results the collector refused
        permanently are set aside and count as handled (0 acknowledged).
        """
        loop = asyncio.get_running_loop()
        batch = self._spool.batch(self._batch_size)
        try:
            ack = await self._client.send_report_body(self._report_body(batch))
        except CollectorError as error:
            if not self._handle_refusal(error, batch):
                raise
            return 0
        self._last_sent = loop.time()
        if batch and not ack.acknowledged:
            raise CollectorError(f"collector acknowledged none of {len(batch)} results", permanent=False)
        self._spool.delete([str(result_id) for result_id in ack.acknowledged])
        return len(ack.acknowledged)

    def _handle_refusal(self, error: CollectorError, batch: list[Spooled]) -> bool:
        """Deal with a refusal that retrying cannot fix. False: transient, back off and retry."""
        is_client_error = error.status is not None and 400 <= error.status < 500
        if is_client_error and error.refused:
            refused = {batch[i].id: reason for i, reason in error.refused.items() if i < len(batch)}
            moved = self._spool.set_aside(refused)
            log.error(
                "collector refused results, set aside count=%d reasons=%s",
                moved,
                "; ".join(sorted(set(refused.values()))[:3]),
            )
            return moved > 0
        if not error.permanent or not batch:
            return False
        if error.status == 413 and len(batch) > 1:
            self._batch_size = max(1, len(batch) // 2)
            log.warning("report too large; batch size lowered to %d", self._batch_size)
            return True
        self._spool.set_aside({item.id: str(error) for item in batch})
        log.error("report refused permanently, batch set aside size=%d error=%s", len(batch), error)
        return True

    def _report_body(self, batch: list[Spooled]) -> bytes:
        # The spool holds each result's wire JSON already: splice, do not re-encode.
        head = {
            "protocol": PROTOCOL_VERSION,
            "agent": self._agent_name,
            "agent_version": __version__,
            "sent_at": to_iso(self._clock()),
        }
        dropped = self._spool.dropped_total
        if dropped:
            head["dropped"] = dropped
        backlog = max(self._spool.pending - len(batch), 0)
        if backlog:  # like `dropped`, only when there is one (older collectors do not know it)
            head["backlog"] = backlog
        text = json.dumps(head)[:-1] + ', "results": [' + ",".join(item.body for item in batch) + "]}"
        return text.encode()

    async def flush(self, timeout_s: float = 5.0) -> None:
        """Try to deliver everything still spooled, within `timeout_s` (used at shutdown).

        What is not delivered stays in the spool for the next start.
        """
        if not self._spool.pending:
            return  # nothing to deliver; no heartbeat while the collector may be stopping too
        try:
            async with asyncio.timeout(timeout_s):
                await self.drain()
        except (CollectorError, TimeoutError) as error:
            log.warning(
                "could not flush at shutdown; kept in the spool pending=%d error=%s", self.pending, error
            )
