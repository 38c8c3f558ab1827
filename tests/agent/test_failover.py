"""Failover between collectors (`collector_urls`) against real loopback servers:
connection errors and 5xx move a call on to the next URL, 4xx do not, later
calls stay on the collector that answered, the first comes back after
FAILBACK_S, and a report retried elsewhere is neither lost nor doubled."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from agent.client import FAILBACK_S, CollectorClient, CollectorError
from agent.reporter import Reporter
from agent.spool import Spool
from tests.agent.conftest import ServeFn, closed_port
from tests.agent.test_spool import make_result


class Collector:
    """A collector on one port sharing `stored` (the one database) with its peers."""

    def __init__(self, stored: set[str], status: int = 200) -> None:
        self.stored = stored
        self.status = status
        self.calls = 0
        self.store_then_fail = False

    async def reports(self, request: web.Request) -> web.Response:
        self.calls += 1
        ids = [r["id"] for r in json.loads(await request.read())["results"]]
        if self.store_then_fail:
            self.stored.update(ids)  # stored, but the answer never reaches the agent
            return web.json_response({"error": "crashed"}, status=502)
        if self.status != 200:
            return web.json_response({"error": "no"}, status=self.status)
        new = [i for i in ids if i not in self.stored]
        self.stored.update(ids)
        return web.json_response(
            {"accepted": len(new), "duplicates": len(ids) - len(new), "acknowledged": ids}
        )

    async def assignments(self, _request: web.Request) -> web.Response:
        self.calls += 1
        if self.status != 200:
            return web.json_response({"error": "no"}, status=self.status)
        assignments = {"agent": "edge-1", "generated_at": "2026-12-01T00:00:00Z", "checks": []}
        return web.json_response(assignments, headers={"ETag": '"a"'})


async def start(serve: ServeFn, collector: Collector) -> str:
    app = web.Application()
    app.router.add_post("/api/v1/agent/reports", collector.reports)
    app.router.add_get("/api/v1/agent/assignments", collector.assignments)
    return f"http://127.0.0.1:{await serve(app)}"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def session() -> Any:
    async with aiohttp.ClientSession() as session:
        yield session


async def send(client: CollectorClient, spool: Spool, count: int = 1) -> int:
    reporter = Reporter(client, spool, "edge-1")
    for _ in range(count):
        await reporter.add(make_result())
    return await reporter.send_once()


@pytest.mark.parametrize("first_fails", ["connection refused", 500, 502, 503])
async def test_unreachable_or_5xx_moves_on_to_the_next_and_stays(
    serve: ServeFn, session: aiohttp.ClientSession, tmp_path: Path, first_fails: Any
) -> None:
    stored: set[str] = set()
    first, second = Collector(stored), Collector(stored)
    if first_fails == "connection refused":
        first_url = f"http://127.0.0.1:{closed_port()}"
    else:
        first.status = first_fails
        first_url = await start(serve, first)
    client = CollectorClient(session, [first_url, await start(serve, second)], "uwa_test", 2.0)
    spool = Spool(tmp_path / "spool.db")
    assert await send(client, spool, 3) == 3
    assert spool.pending == 0 and len(stored) == 3
    assert client.current_url != first_url
    calls_before = first.calls
    await client.fetch_assignments(None)
    assert first.calls == calls_before  # the next call stays on the collector that answered
    spool.close()


async def test_a_4xx_is_not_failed_over(serve: ServeFn, session: aiohttp.ClientSession) -> None:
    stored: set[str] = set()
    first, second = Collector(stored, status=401), Collector(stored)
    client = CollectorClient(
        session, [await start(serve, first), await start(serve, second)], "uwa_test", 2.0
    )
    with pytest.raises(CollectorError) as raised:
        await client.fetch_assignments(None)
    assert raised.value.status == 401 and second.calls == 0


async def test_all_down_is_one_transient_error_and_keeps_the_spool(
    serve: ServeFn, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    stored: set[str] = set()
    down = Collector(stored, status=503)
    urls = [f"http://127.0.0.1:{closed_port()}", await start(serve, down)]
    client = CollectorClient(session, urls, "uwa_test", 2.0)
    spool = Spool(tmp_path / "spool.db")
    with pytest.raises(CollectorError) as raised:
        await send(client, spool)
    assert not raised.value.permanent and raised.value.status == 503
    assert spool.pending == 1 and down.calls == 1
    spool.close()


async def test_stored_but_unanswered_report_is_stored_once_after_failover(
    serve: ServeFn, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    stored: set[str] = set()
    first, second = Collector(stored), Collector(stored)
    first.store_then_fail = True
    client = CollectorClient(
        session, [await start(serve, first), await start(serve, second)], "uwa_test", 2.0
    )
    spool = Spool(tmp_path / "spool.db")
    assert await send(client, spool, 4) == 4
    assert spool.pending == 0 and len(stored) == 4 and second.calls == 1
    spool.close()


async def test_the_first_collector_is_tried_again_after_failback(
    serve: ServeFn, session: aiohttp.ClientSession
) -> None:
    stored: set[str] = set()
    first, second = Collector(stored, status=503), Collector(stored)
    clock = Clock()
    first_url = await start(serve, first)
    client = CollectorClient(
        session, [first_url, await start(serve, second)], "uwa_test", 2.0, monotonic=clock
    )
    await client.fetch_assignments(None)
    assert client.current_url != first_url
    first.status = 200
    clock.now += FAILBACK_S - 1
    await client.fetch_assignments(None)
    assert first.calls == 1
    clock.now += 1
    await client.fetch_assignments(None)
    assert first.calls == 2 and client.current_url == first_url
