"""The scheduler: spread start times, the concurrency cap, no overlapping runs, clean stop;
and `upwatch-agent run` under SIGTERM with a real subprocess and a loopback collector."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from agent.probes import PROBES, Outcome
from agent.probes.context import ProbeContext
from agent.scheduler import Scheduler
from shared.checks import parse_check
from shared.schema import Result
from tests.helpers import BIN


def tcp_check(check_id: str, **fields: Any) -> Any:
    return parse_check({"id": check_id, "kind": "tcp", "host": "127.0.0.1", "port": 9, **fields})


class Recorder:
    """A probe standing in for tcp at the registry seam: sleeps, counts concurrency."""

    def __init__(self, duration_s: float):
        self.duration_s = duration_s
        self.running: dict[str, int] = {}
        self.peak_total = 0
        self.peak_per_check = 0
        self.runs = 0

    async def __call__(self, check: Any, context: ProbeContext) -> Outcome:
        self.running[check.id] = self.running.get(check.id, 0) + 1
        self.peak_total = max(self.peak_total, sum(self.running.values()))
        self.peak_per_check = max(self.peak_per_check, self.running[check.id])
        try:
            await asyncio.sleep(self.duration_s)
        finally:
            self.running[check.id] -= 1
        self.runs += 1
        return Outcome("up")


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    probe = Recorder(0.2)
    monkeypatch.setitem(PROBES, "tcp", probe)
    return probe


def test_first_runs_are_spread_over_the_interval() -> None:
    scheduler = Scheduler.__new__(Scheduler)
    scheduler._rng = random.Random(7)
    scheduler._max_first_delay_s = 60.0
    check = tcp_check("c", interval="10s", timeout="1s")
    delays = [scheduler.first_delay_s(check) for _ in range(1000)]
    assert 0 <= min(delays) and max(delays) <= 10
    per_second = [sum(1 for d in delays if second <= d < second + 1) for second in range(10)]
    assert max(per_second) < 140, per_second  # about 100 per second, never a thundering herd
    long_check = tcp_check("d", interval="1d", timeout="1s")
    assert max(scheduler.first_delay_s(long_check) for _ in range(100)) <= 60


async def test_concurrency_cap_and_no_overlap(recorder: Recorder, context: ProbeContext) -> None:
    results: list[Result] = []

    async def sink(result: Result) -> None:
        results.append(result)

    scheduler = Scheduler(context, sink, max_concurrency=2, max_first_delay_s=0)
    # timeout == interval: each run may take its whole slot, yet never overlaps itself.
    scheduler.update([tcp_check(f"c{i}", interval="1s", timeout="1s") for i in range(5)])
    deadline = time.monotonic() + 10
    while len(results) < 8 and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    await scheduler.stop()
    assert len(results) >= 8
    assert recorder.peak_total == 2
    assert recorder.peak_per_check == 1


async def test_heartbeats_are_not_scheduled(recorder: Recorder, context: ProbeContext) -> None:
    async def sink(result: Result) -> None:
        raise AssertionError("nothing should run")

    scheduler = Scheduler(context, sink, max_first_delay_s=0)
    scheduler.update([parse_check({"id": "hb", "kind": "heartbeat", "period": "1h"})])
    assert scheduler.checks == []
    await scheduler.stop()


async def test_stop_lets_a_short_run_finish(recorder: Recorder, context: ProbeContext) -> None:
    results: list[Result] = []

    async def sink(result: Result) -> None:
        results.append(result)

    scheduler = Scheduler(context, sink, max_first_delay_s=0)
    scheduler.update([tcp_check("c", interval="10s", timeout="5s")])
    while not scheduler.in_flight:
        await asyncio.sleep(0.01)
    await scheduler.stop(grace_s=2)
    assert [r.check_id for r in results] == ["c"]
    scheduler.update([tcp_check("late", interval="1s", timeout="1s")])  # ignored once stopping
    assert scheduler.checks == []


async def test_stop_cancels_a_long_run_after_the_grace(recorder: Recorder, context: ProbeContext) -> None:
    recorder.duration_s = 30
    results: list[Result] = []

    async def sink(result: Result) -> None:
        results.append(result)

    scheduler = Scheduler(context, sink, max_first_delay_s=0)
    scheduler.update([tcp_check("c", interval="60s", timeout="59s")])
    while not scheduler.in_flight:
        await asyncio.sleep(0.01)
    began = time.monotonic()
    await scheduler.stop(grace_s=0.2)
    assert time.monotonic() - began < 2
    assert results == []
    assert recorder.running == {"c": 0}


@pytest.fixture
async def collector() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    """A loopback stand-in for the collector's agent API that records the reported results."""
    received: list[dict[str, Any]] = []

    async def assignments(request: web.Request) -> web.Response:
        body = {"protocol": 1, "agent": "sig", "generated_at": "2026-11-27T12:00:00+00:00", "checks": []}
        return web.json_response(body, headers={"ETag": '"x"'})

    async def reports(request: web.Request) -> web.Response:
        report = await request.json()
        received.extend(report["results"])
        ids = [r["id"] for r in report["results"]]
        return web.json_response({"accepted": len(ids), "duplicates": 0, "acknowledged": ids})

    app = web.Application()
    app.router.add_get("/api/v1/agent/assignments", assignments)
    app.router.add_post("/api/v1/agent/reports", reports)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}", received
    await runner.cleanup()


async def run_agent_until_busy(
    tmp_path: Path, base: str, sleep_s: float, grace_s: float = 5
) -> asyncio.subprocess.Process:
    marker = tmp_path / "started"
    script = (
        f"import pathlib, time; pathlib.Path({str(marker)!r}).touch(); time.sleep({sleep_s}); print('done')"
    )
    (tmp_path / "agent.toml").write_text(
        "[[checks]]\n"
        'id = "job"\nkind = "command"\ninterval = "8s"\ntimeout = "8s"\n'
        f"argv = {json.dumps([sys.executable, '-c', script])}\n"
    )
    env = {
        **os.environ,
        "UPWATCH_AGENT_CONFIG": str(tmp_path / "agent.toml"),
        "UPWATCH_AGENT_COLLECTOR_URL": base,
        "UPWATCH_AGENT_TOKEN": "uwa_test",
        "UPWATCH_AGENT_NAME": "sig",
        "UPWATCH_AGENT_REPORT_INTERVAL_S": "60",  # only the shutdown flush can deliver in time
        "UPWATCH_AGENT_SHUTDOWN_GRACE_S": str(grace_s),
        "UPWATCH_AGENT_SPOOL_PATH": str(tmp_path / "spool.db"),
    }
    process = await asyncio.create_subprocess_exec(
        str(BIN / "upwatch-agent"),
        "run",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60  # the first run lands within the first interval (jitter)
    while not marker.exists():
        assert time.monotonic() < deadline, "the command check never started"
        assert process.returncode is None
        await asyncio.sleep(0.1)
    return process


async def test_sigterm_finishes_in_flight_probe_and_flushes(
    tmp_path: Path, collector: tuple[str, list[dict[str, Any]]]
) -> None:
    base, received = collector
    process = await run_agent_until_busy(tmp_path, base, sleep_s=1.0)
    process.send_signal(signal.SIGTERM)
    output, _ = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 0, output.decode()
    assert [(r["check_id"], r["status"], r["detail"]["output"]) for r in received] == [("job", "up", "done")]
    assert b"Traceback" not in output


async def test_sigterm_cancels_a_long_probe_and_kills_its_process(
    tmp_path: Path, collector: tuple[str, list[dict[str, Any]]]
) -> None:
    base, received = collector
    process = await run_agent_until_busy(tmp_path, base, sleep_s=120, grace_s=0.5)
    began = time.monotonic()
    process.send_signal(signal.SIGTERM)
    output, _ = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 0, output.decode()
    assert time.monotonic() - began < 6  # well before the 8 s timeout would have ended it
    assert received == []
    assert b"cancelling probes still running at shutdown checks=job" in output
    leftovers = [
        p
        for p in Path("/proc").iterdir()
        if p.name.isdigit() and _cmdline(p).endswith("time.sleep(120); print('done')")
    ]
    assert leftovers == []


def _cmdline(proc: Path) -> str:
    try:
        return (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""
