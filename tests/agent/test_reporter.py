"""The reporter against a real HTTP server on loopback that plays the collector:
ack = delete, transient errors keep everything, refused results are set aside
without blocking the rest, 413 halves the batch, heartbeats, capped backoff."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from agent.client import CollectorClient, CollectorError
from agent.reporter import Reporter
from agent.spool import Spool
from tests.agent.test_spool import make_result

Answer = Callable[[dict[str, Any]], web.Response]


def ack_all(report: dict[str, Any]) -> web.Response:
    ids = [r["id"] for r in report["results"]]
    return web.json_response({"accepted": len(ids), "duplicates": 0, "acknowledged": ids})


class FakeCollector:
    """Records every report; answers with the scripted answers in turn, then acks all."""

    def __init__(self) -> None:
        self.reports: list[dict[str, Any]] = []
        self.answers: list[Answer] = []

    async def handle(self, request: web.Request) -> web.Response:
        assert request.headers["Authorization"] == "Bearer uwa_test"
        report = json.loads(await request.read())
        self.reports.append(report)
        answer = self.answers.pop(0) if self.answers else ack_all
        return answer(report)


@pytest.fixture
async def collector(aiohttp_server: Any) -> Any:
    fake = FakeCollector()
    app = web.Application()
    app.router.add_post("/api/v1/agent/reports", fake.handle)
    server = await aiohttp_server(app)
    fake.url = str(server.make_url(""))  # type: ignore[attr-defined]
    return fake


@pytest.fixture
async def make_reporter(collector: FakeCollector, tmp_path: Path) -> Any:
    session = aiohttp.ClientSession()
    spools: list[Spool] = []

    def factory(**kwargs: Any) -> tuple[Reporter, Spool]:
        spool = Spool(tmp_path / f"spool{len(spools)}.db", max_bytes=kwargs.pop("max_bytes", 1 << 30))
        spools.append(spool)
        client = CollectorClient(session, collector.url, "uwa_test", 5.0)  # type: ignore[attr-defined]
        return Reporter(client, spool, "edge-1", **kwargs), spool

    yield factory
    await session.close()
    for spool in spools:
        spool.close()


def error(status: int, message: str, details: list[dict[str, str]] | None = None) -> Answer:
    return lambda _report: web.json_response({"error": message, "details": details or []}, status=status)


async def test_acknowledged_results_leave_the_spool(collector: FakeCollector, make_reporter: Any) -> None:
    reporter, spool = make_reporter(batch_size=3)
    for _ in range(7):
        await reporter.add(make_result())
    await reporter.drain()
    assert spool.pending == 0
    assert [len(r["results"]) for r in collector.reports] == [3, 3, 1]
    assert collector.reports[0]["agent"] == "edge-1" and "dropped" not in collector.reports[0]
    # What stays in the spool after each batch travels as `backlog` (absent when nothing is left).
    assert [r.get("backlog") for r in collector.reports] == [4, 1, None]


async def test_only_acknowledged_ids_are_deleted(collector: FakeCollector, make_reporter: Any) -> None:
    reporter, spool = make_reporter()
    results = [make_result() for _ in range(4)]
    for result in results:
        await reporter.add(result)

    def ack_half(report: dict[str, Any]) -> web.Response:
        ids = [r["id"] for r in report["results"]][:2]
        return web.json_response({"accepted": 2, "duplicates": 0, "acknowledged": ids})

    collector.answers = [ack_half]
    assert await reporter.send_once() == 2
    assert [item.id for item in spool.batch(10)] == [str(r.id) for r in results[2:]]


@pytest.mark.parametrize(
    "answer",
    [
        error(503, "storage busy"),
        error(500, "boom"),
        error(429, "slow down"),
        error(401, "unknown or revoked agent token"),
        error(403, "this token belongs to agent 'x'"),
        lambda _r: web.Response(text="<html>bad gateway</html>", status=502),
        lambda _r: web.json_response({"accepted": 1}),  # not an acknowledgement
    ],
)
async def test_transient_failures_keep_everything(
    collector: FakeCollector, make_reporter: Any, answer: Answer
) -> None:
    reporter, spool = make_reporter()
    await reporter.add(make_result())
    collector.answers = [answer]
    with pytest.raises(CollectorError) as raised:
        await reporter.send_once()
    assert not raised.value.permanent
    assert spool.pending == 1
    assert await reporter.send_once() == 1 and spool.pending == 0


async def test_unreachable_collector_is_transient(make_reporter: Any, tmp_path: Path) -> None:
    async with aiohttp.ClientSession() as session:
        spool = Spool(tmp_path / "other.db")
        client = CollectorClient(session, "http://127.0.0.1:9", "uwa_test", 2.0)
        reporter = Reporter(client, spool, "edge-1")
        await reporter.add(make_result())
        with pytest.raises(CollectorError, match="cannot reach"):
            await reporter.send_once()
        assert spool.pending == 1
        spool.close()


async def test_refused_results_are_set_aside_and_the_rest_goes_on(
    collector: FakeCollector, make_reporter: Any
) -> None:
    reporter, spool = make_reporter()
    results = [make_result() for _ in range(4)]
    for result in results:
        await reporter.add(result)
    collector.answers = [
        error(
            422,
            "invalid report: results.1.latency_ms: too big",
            [{"loc": "results.1.latency_ms", "msg": "too big", "type": "x"}],
        ),
        error(
            403,
            "checks not assigned to agent 'edge-1': c",
            [{"loc": "results.2.check_id", "msg": "check 'c' is not assigned", "type": "not_assigned"}],
        ),
    ]
    await reporter.drain()
    assert spool.pending == 0
    reasons = dict(spool.set_aside_reasons())
    assert reasons == {
        str(results[1].id): "results.1.latency_ms: too big",
        str(results[3].id): "results.2.check_id: check 'c' is not assigned",  # index 2 of the second try
    }
    delivered = {r["id"] for r in collector.reports[-1]["results"]}
    assert delivered == {str(results[0].id), str(results[2].id)}


async def test_permanent_refusal_sets_the_batch_aside_without_blocking_later_ones(
    collector: FakeCollector, make_reporter: Any
) -> None:
    reporter, spool = make_reporter(batch_size=2)
    results = [make_result() for _ in range(3)]
    for result in results:
        await reporter.add(result)
    collector.answers = [error(400, "body is not valid JSON")]
    await reporter.drain()
    assert spool.pending == 0
    assert [r[0] for r in spool.set_aside_reasons()] == [str(r.id) for r in results[:2]]
    assert "400" in spool.set_aside_reasons()[0][1]
    assert [r["id"] for r in collector.reports[-1]["results"]] == [str(results[2].id)]


async def test_too_large_halves_the_batch(collector: FakeCollector, make_reporter: Any) -> None:
    reporter, spool = make_reporter(batch_size=8)
    for _ in range(8):
        await reporter.add(make_result())
    collector.answers = [error(413, "request body too large")]
    await reporter.drain()
    assert spool.pending == 0 and not spool.set_aside_reasons()
    assert [len(r["results"]) for r in collector.reports] == [8, 4, 4]


async def test_dropped_count_travels_with_every_report(collector: FakeCollector, make_reporter: Any) -> None:
    one = len(make_result().model_dump_json())
    reporter, spool = make_reporter(max_bytes=2 * one)
    for _ in range(5):
        await reporter.add(make_result())
    await reporter.drain()
    assert collector.reports[-1]["dropped"] == 3
    assert len(collector.reports[-1]["results"]) == 2


async def test_heartbeats_when_idle_and_batches_leave_within_the_interval(
    collector: FakeCollector, make_reporter: Any
) -> None:
    reporter, spool = make_reporter(report_interval_s=0.05, heartbeat_interval_s=0.2)
    task = asyncio.create_task(reporter.run())
    try:
        await asyncio.sleep(0.7)
        await reporter.add(make_result())
        for _ in range(100):
            if spool.pending == 0:
                break
            await asyncio.sleep(0.02)
    finally:
        task.cancel()
    heartbeats = [r for r in collector.reports if not r["results"]]
    assert 2 <= len(heartbeats) <= 6
    assert spool.pending == 0


@pytest.mark.parametrize(
    ("failures", "low", "high"),
    [(1, 0.25, 0.5), (2, 0.5, 1.0), (3, 1.0, 2.0), (5, 4.0, 8.0), (6, 5.0, 10.0), (50, 5.0, 10.0)],
)
async def test_backoff_is_exponential_jittered_and_capped(
    make_reporter: Any, failures: int, low: float, high: float
) -> None:
    reporter, _spool = make_reporter(backoff_max_s=10.0)
    delays = [reporter.backoff_delay(failures) for _ in range(200)]
    assert all(low <= d <= high for d in delays)
    assert len({round(d, 6) for d in delays}) > 100  # jittered, not synchronized
