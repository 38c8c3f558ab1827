"""Runs checks on their intervals: spread start times, a global concurrency cap,
never two runs of one check at once.

Each check gets one task that loops: wait for its next slot, run, hand the
result to the sink. A run that overruns its slot simply delays the next slot
(the loop is sequential), so one check never overlaps itself.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable

from agent.probes import run_check
from agent.probes.context import ProbeContext
from shared.checks import AnyCheck
from shared.schema import Result

log = logging.getLogger(__name__)

ResultSink = Callable[[Result], Awaitable[None]]


class Scheduler:
    """Owns one task per check; `update()` swaps the set of checks without a restart."""

    def __init__(self, context: ProbeContext, sink: ResultSink, max_concurrency: int = 50):
        self._context = context
        self._sink = sink
        self._slots = asyncio.Semaphore(max_concurrency)
        self._tasks: dict[str, tuple[AnyCheck, asyncio.Task[None]]] = {}

    @property
    def checks(self) -> list[AnyCheck]:
        return [check for check, _task in self._tasks.values()]

    def update(self, checks: list[AnyCheck]) -> None:
        """Start new or changed checks, stop removed ones; unchanged ones keep their rhythm."""
        wanted = {check.id: check for check in checks}
        for check_id, (current, task) in list(self._tasks.items()):
            if wanted.get(check_id) != current:
                task.cancel()
                del self._tasks[check_id]
        for check_id, check in wanted.items():
            if check_id not in self._tasks:
                task = asyncio.create_task(self._loop(check), name=f"check:{check_id}")
                self._tasks[check_id] = (check, task)

    async def stop(self) -> None:
        """Cancel every loop and wait until they are gone."""
        tasks = [task for _check, task in self._tasks.values()]
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _loop(self, check: AnyCheck) -> None:
        interval_s = check.interval.total_seconds()
        loop = asyncio.get_running_loop()
        # Jitter: spread first runs over one interval so many checks never fire together.
        next_at = loop.time() + random.uniform(0, min(interval_s, 5.0))  # noqa: S311
        while True:
            await asyncio.sleep(max(0.0, next_at - loop.time()))
            async with self._slots:
                result = await run_check(check, self._context)
            try:
                await self._sink(result)
            except Exception:  # noqa: BLE001 - keep checking even if the sink hiccups
                log.exception("result sink failed check=%s", check.id)
            next_at += interval_s
            if next_at < loop.time():  # overran: skip missed slots rather than burst
                next_at = loop.time() + interval_s
