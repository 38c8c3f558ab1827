"""Ships results to the collector in batches; keeps what was not acknowledged.

Results wait in a bounded in-memory buffer; a batch is sent when it is full or
`report_interval_s` has passed, and a heartbeat (an empty report) goes out every
`heartbeat_interval_s` so the collector knows the agent is alive. Only results
the collector acknowledged leave the buffer. Transient errors back off
exponentially with jitter; a permanent refusal sets the batch aside (logged).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import OrderedDict

from agent import __version__
from agent.client import CollectorClient, CollectorError
from shared.schema import MAX_RESULTS_PER_REPORT, Report, Result
from shared.timeutil import Clock, utcnow

log = logging.getLogger(__name__)

MAX_BUFFERED = 100_000
BACKOFF_CAP_S = 60.0


class Reporter:
    """Buffers results and delivers them; `run()` is the long-lived sending loop."""

    def __init__(
        self,
        client: CollectorClient,
        agent_name: str,
        *,
        report_interval_s: float = 2.0,
        heartbeat_interval_s: float = 30.0,
        batch_size: int = 500,
        clock: Clock = utcnow,
    ):
        self._client = client
        self._agent_name = agent_name
        self._report_interval_s = report_interval_s
        self._heartbeat_interval_s = heartbeat_interval_s
        self._batch_size = min(batch_size, MAX_RESULTS_PER_REPORT)
        self._clock = clock
        self._pending: OrderedDict[str, Result] = OrderedDict()
        self._wakeup = asyncio.Event()
        self.dropped = 0

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def add(self, result: Result) -> None:
        """Queue a result; when the buffer is full the oldest result is dropped and counted."""
        if len(self._pending) >= MAX_BUFFERED:
            self._pending.popitem(last=False)
            self.dropped += 1
        self._pending[str(result.id)] = result
        if len(self._pending) >= self._batch_size:
            self._wakeup.set()

    async def run(self) -> None:
        """Send batches forever; returns only when cancelled."""
        loop = asyncio.get_running_loop()
        failures = 0
        last_sent = 0.0
        while True:
            try:
                await asyncio.wait_for(self._wakeup.wait(), timeout=self._report_interval_s)
            except TimeoutError:
                pass
            self._wakeup.clear()
            heartbeat_due = loop.time() - last_sent >= self._heartbeat_interval_s
            if not self._pending and not heartbeat_due:
                continue
            try:
                await self.send_once()
                failures = 0
                last_sent = loop.time()
            except CollectorError as error:
                failures += 1
                delay = min(BACKOFF_CAP_S, 0.5 * 2 ** min(failures, 10)) * random.uniform(0.5, 1.0)  # noqa: S311
                log.warning("report failed error=%s retry_in_s=%.1f", error, delay)
                await asyncio.sleep(delay)

    async def send_once(self) -> int:
        """Send one batch (possibly empty, as a heartbeat). Returns how many were acknowledged.

        Raises CollectorError for transient failures; permanent refusals drop the batch.
        """
        batch = list(self._pending.values())[: self._batch_size]
        report = Report(
            agent=self._agent_name, agent_version=__version__, sent_at=self._clock(), results=batch
        )
        try:
            ack = await self._client.send_report(report)
        except CollectorError as error:
            if not error.permanent or not batch:
                raise
            log.error("report refused permanently, batch set aside size=%d error=%s", len(batch), error)
            for result in batch:
                self._pending.pop(str(result.id), None)
            return 0
        for result_id in ack.acknowledged:
            self._pending.pop(str(result_id), None)
        return len(ack.acknowledged)

    async def flush(self, timeout_s: float = 5.0) -> None:
        """Try to deliver everything still buffered, within `timeout_s` (used at shutdown)."""
        try:
            async with asyncio.timeout(timeout_s):
                while self._pending:
                    await self.send_once()
        except (CollectorError, TimeoutError) as error:
            log.warning("could not flush results at shutdown pending=%d error=%s", self.pending, error)
