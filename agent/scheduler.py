"""Runs checks on their intervals: spread start times, a global concurrency cap,
never two runs of one check at once, and a clean stop.

Each check gets one task that loops: wait for its next slot, run, hand the
result to the sink. A run that overruns its slot simply delays the next slot
(the loop is sequential), so one check never overlaps itself; the check's
timeout (validated to be at most its interval) bounds every run.

Jitter: a check's first run falls at a random point of its first interval (at
most `max_first_delay_s` away), so a thousand checks with the same interval
are spread evenly rather than firing in the same second, and stay spread
because each then keeps its own phase.

Stopping: `stop(grace_s)` starts no new runs, lets the runs in flight finish
(their results still reach the sink) for up to `grace_s`, then cancels the rest
— a cancelled command probe kills its process group on the way out.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable

from agent.probes import PROBES, run_check
from agent.probes.context import ProbeContext
from shared.checks import AnyCheck
from shared.schema import Result

log = logging.getLogger(__name__)

ResultSink = Callable[[Result], Awaitable[None]]
DEFAULT_STOP_GRACE_S = 5.0


class Scheduler:
    """Owns one task per check; `update()` swaps the set of checks without a restart."""

    def __init__(
        self,
        context: ProbeContext,
        sink: ResultSink,
        max_concurrency: int = 50,
        *,
        max_first_delay_s: float = 60.0,
        rng: random.Random | None = None,
    ):
        self._context = context
        self._sink = sink
        self._slots = asyncio.Semaphore(max_concurrency)
        self._max_first_delay_s = max_first_delay_s
        self._rng = rng or random.Random()  # noqa: S311 - spreading load, not secrecy
        self._tasks: dict[str, tuple[AnyCheck, asyncio.Task[None]]] = {}
        self._stopping = asyncio.Event()
        self.in_flight: set[str] = set()

    @property
    def checks(self) -> list[AnyCheck]:
        return [check for check, _task in self._tasks.values()]

    def update(self, checks: list[AnyCheck]) -> None:
        """Start new or changed checks, stop removed ones; unchanged ones keep their rhythm.

        Kinds with no probe on this agent (heartbeats, evaluated by the collector) are skipped.
        """
        if self._stopping.is_set():
            return
        wanted = {check.id: check for check in checks if check.kind in PROBES}
        for check_id, (current, task) in list(self._tasks.items()):
            if wanted.get(check_id) != current:
                task.cancel()
                del self._tasks[check_id]
        for check_id, check in wanted.items():
            if check_id not in self._tasks:
                task = asyncio.create_task(self._loop(check), name=f"check:{check_id}")
                self._tasks[check_id] = (check, task)

    async def stop(self, grace_s: float = DEFAULT_STOP_GRACE_S) -> None:
        """Start no new runs; let runs in flight finish for up to `grace_s`, then cancel them."""
        self._stopping.set()
        tasks = [task for _check, task in self._tasks.values()]
        self._tasks.clear()
        if tasks:
            _done, pending = await asyncio.wait(tasks, timeout=grace_s)
            if pending:
                log.warning(
                    "cancelling probes still running at shutdown checks=%s", ",".join(sorted(self.in_flight))
                )
            for task in pending:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def first_delay_s(self, check: AnyCheck) -> float:
        return self._rng.uniform(0, min(check.interval.total_seconds(), self._max_first_delay_s))

    async def _loop(self, check: AnyCheck) -> None:
        interval_s = check.interval.total_seconds()
        loop = asyncio.get_running_loop()
        next_at = loop.time() + self.first_delay_s(check)
        while not self._stopping.is_set():
            if await self._stopped_within(next_at - loop.time()):
                return
            async with self._slots:
                if self._stopping.is_set():
                    return
                self.in_flight.add(check.id)
                try:
                    result = await run_check(check, self._context)
                finally:
                    self.in_flight.discard(check.id)
            try:
                await self._sink(result)
            except Exception:  # noqa: BLE001 - keep checking even if the sink hiccups
                log.exception("result sink failed check=%s", check.id)
            next_at += interval_s
            if next_at < loop.time():  # overran: skip missed slots rather than burst
                next_at = loop.time() + interval_s

    async def _stopped_within(self, delay_s: float) -> bool:
        """Sleep `delay_s`, waking early when stopping; True when stopping."""
        if delay_s > 0:
            try:
                await asyncio.wait_for(self._stopping.wait(), timeout=delay_s)
            except TimeoutError:
                pass
        return self._stopping.is_set()
