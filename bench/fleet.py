"""Fleet simulation: many agents reporting to collectors on PostgreSQL (two) and SQLite (one).

1,000 simulated agents (`--agents`) with 20 checks each (`--checks`) every 30 s
(about 670 results/s), for 10 minutes (`--minutes`) per engine, on loopback:

- PostgreSQL: two collectors (`serve --no-worker`, gunicorn gthread, separate
  ports; each agent's first collector URL is one of them, half and half) and two
  background workers on one database, on `--database URL` or a throwaway server
  started like the tests' with durability on (bench/common/postgres.py);
- SQLite: one collector and one worker on a SQLite file.

The agents live in one asyncio process (aiohttp, one session, at most
`--connections` sockets), all registered up front, started staggered over one
report interval. Each behaves like `upwatch-agent run` with its defaults:
every check yields a result every 30 s at its own phase; results wait in the
agent and leave in one report every `--report-interval` seconds (2 s, the
agent's `report_interval_s`), one report in flight per agent at most (a slow
collector makes reports larger, as a real spool would). The (check, agent) states
are stored up front as up, as a running fleet has them (`--cold`: none, so
the run starts with every agent's first results at once). Agents come in groups
of 10 sharing a label and their 20 checks (one component per group, quorum
majority); every 2 minutes one group's first check fails for 90 s on all its
agents, so incidents open and resolve and the page goes to a webhook receiver
in this process (outbox traffic).

Reported per engine: report latency p50/p99 (POST to response), results
acknowledged per second against those offered, errors; worker pass time
p50/p95/max (the real `statuspage.worker.Worker`, each pass timed); outbox lag
(delivered_at - created_at) p50/max; `/` and `/api/v2/summary.json` p50/p95
(served every 2 s while the fleet runs, and `/` forced to render every 10 s);
CPU seconds of the load generator, the collectors, the workers and PostgreSQL
(so the generator's share is known); load average.

    .venv/bin/python bench/fleet.py [--agents 1000] [--checks 20] [--minutes 10]
        [--engines postgresql,sqlite] [--database URL] [--report-interval 2]
        [--pg-collectors 2] [--workers 2] [--threads 4] [--connections 256] [--cold]

A development run: `--agents 100 --minutes 1`. Prints figures; it is not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import postgres as pg  # noqa: E402
from bench.common.cpu import group_cpu_s, postgres_cpu_s  # noqa: E402
from shared.timeutil import to_iso  # noqa: E402
from tests.helpers import BIN, free_port, http_get, wait_for  # noqa: E402

GROUP_SIZE = 10  # agents per label; a group's checks run on its agents (10 locations)
INTERVAL_S = 30
FAULT_EVERY_S = 120
FAULT_FOR_S = 90
RAMP_S = 30  # latencies of the first interval (staggered start) are not counted


def write_config(path: Path, groups: int, checks: int, hook_url: str) -> None:
    lines = [
        'stale_after_intervals = 3.0\n[page]\nname = "Fleet"\nurl = "https://status.fleet.test"\n',
        f'[[channels]]\nid = "ops-hook"\nkind = "webhook"\nurl = "{hook_url}"\n',
        '[[escalation_policies]]\nid = "ops"\nlevels = [{ channels = ["ops-hook"], after = "0s" }]\n',
    ]
    for g in range(groups):
        lines.append(f'[[components]]\nid = "grp{g}"\nname = "Service {g}"\nescalation_policy = "ops"\n')
        for j in range(checks):
            lines.append(
                f'[[checks]]\nid = "g{g}-c{j}"\ncomponent = "grp{g}"\nkind = "tcp"\nhost = "127.0.0.1"\n'
                f'port = 9\ninterval = "{INTERVAL_S}s"\ntimeout = "5s"\nrun_on = ["label:g{g}"]\n'
            )
    path.write_text("\n".join(lines))


def register_agents(location: str, agents: int, checks: int, warm: bool) -> list[tuple[str, str, int]]:
    """Migrate and create every agent up front; return (name, token, group) each.

    `warm`: also store every (check, agent) state as up, as a fleet that has been
    running finds them. Without it every agent's first results are new states,
    and each report holding one re-evaluates every component (a cold start).
    """
    from statuspage.db import open_store_and_migrate
    from statuspage.storage import sql
    from statuspage.storage.agents import create_agent

    store = open_store_and_migrate(location)
    now = datetime.now(UTC)
    run = uuid.uuid4().hex[:4]  # an existing --database keeps the agents of earlier runs
    try:
        made = []
        with sql.write(store):  # one transaction: each create_agent joins it
            for n in range(agents):
                group = n // GROUP_SIZE
                name = f"fleet-{run}-{n:04d}"
                made.append((name, create_agent(store, name, [f"g{group}"], now)[1], group))
        if warm:
            _seed_states(store, made, checks, now)
        return made
    finally:
        sql.close(store)


def _seed_states(store: Any, agents: list[tuple[str, str, int]], checks: int, now: datetime) -> None:
    from statuspage.storage import sql

    at = to_iso(now)
    rows = [
        {"check": f"g{group}-c{j}", "agent": name, "at": at}
        for name, _token, group in agents
        for j in range(checks)
    ]
    with sql.write(store):
        sql.run_many(
            store,
            "INSERT INTO check_states (check_id, agent, status, since, consecutive_failures,"
            " consecutive_successes, last_result_at, last_latency_ms)"
            " VALUES (:check, :agent, 'up', :at, 0, 10, :at, 12.5)",
            rows,
        )


# -- the load generator ------------------------------------------------------------------


@dataclass
class Figures:
    """What the simulated agents and the page prober saw."""

    latencies_ms: list[float] = field(default_factory=list)
    offered: int = 0
    acknowledged: int = 0
    reports: int = 0
    errors: int = 0
    error_kinds: dict[str, int] = field(default_factory=dict)
    pages: dict[str, list[float]] = field(default_factory=dict)
    hooks: int = 0


def failing(group: int, check: int, elapsed_s: float, groups: int) -> bool:
    """Whether a group's check fails at `elapsed_s`: from RAMP_S on, every FAULT_EVERY_S the next
    group's first check, for FAULT_FOR_S (long enough for failure_threshold 2 at 30 s)."""
    if check != 0 or elapsed_s < RAMP_S:
        return False
    window, into = divmod(elapsed_s - RAMP_S, FAULT_EVERY_S)
    return group == int(window) % groups and into < FAULT_FOR_S


async def agent_loop(
    session: Any, url: str, name: str, token: str, group: int, args: argparse.Namespace,
    t0: float, stop_at: float, figures: Figures, groups: int,
) -> None:  # fmt: skip
    loop = asyncio.get_running_loop()
    rng = random.Random(name)
    phases = [rng.uniform(0, INTERVAL_S) for _ in range(args.checks)]
    next_due = [t0 + p for p in phases]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    pending: list[str] = []
    await asyncio.sleep(rng.uniform(0, args.report_interval))
    while (now := loop.time()) < stop_at:
        for j in range(args.checks):
            while next_due[j] <= now:
                at = datetime.now(UTC) - (now - next_due[j]) * _SECOND
                down = failing(group, j, next_due[j] - t0, groups)
                result = {
                    "id": str(uuid.uuid4()),
                    "check_id": f"g{group}-c{j}",
                    "started_at": at.isoformat(timespec="milliseconds"),
                    "latency_ms": 12.5,
                    "status": "down" if down else "up",
                    "error": "connection refused" if down else None,
                }
                pending.append(json.dumps(result))
                figures.offered += 1
                next_due[j] += INTERVAL_S
        if pending:
            batch, pending = pending[:500], pending[500:]
            body = (
                f'{{"protocol": 1, "agent": "{name}", "agent_version": "fleet",'
                f' "sent_at": "{datetime.now(UTC).isoformat(timespec="milliseconds")}",'
                f' "results": [{",".join(batch)}]}}'
            )
            sent = loop.time()
            try:
                async with session.post(url, data=body.encode(), headers=headers) as response:
                    await response.read()
                    status = response.status
            except Exception as error:  # noqa: BLE001 - count every failure kind, keep the agent going
                status = type(error).__name__
            figures.reports += 1
            if status == 200:
                figures.acknowledged += len(batch)
                if sent - t0 >= RAMP_S:
                    figures.latencies_ms.append((loop.time() - sent) * 1000)
            else:
                pending = batch + pending  # kept, as the spool would
                figures.errors += 1
                figures.error_kinds[str(status)] = figures.error_kinds.get(str(status), 0) + 1
        await asyncio.sleep(max(0.0, args.report_interval - (loop.time() - now)))


_SECOND = datetime.fromtimestamp(1, UTC) - datetime.fromtimestamp(0, UTC)


async def page_prober(session: Any, base: str, stop_at: float, figures: Figures) -> None:
    """`/` and summary.json every 2 s (served), `/` forced to render every 10 s."""
    loop = asyncio.get_running_loop()
    tick = 0
    while loop.time() < stop_at:
        paths = [("/", "/"), ("/api/v2/summary.json", "/api/v2/summary.json")]
        if tick % 5 == 0:
            paths.append(("/ forced render", f"/?bench={uuid.uuid4().hex[:8]}"))
        for label, path in paths:
            started = loop.time()
            try:
                async with session.get(base + path, headers={"Accept-Encoding": "gzip"}) as response:
                    await response.read()
                    ok = response.status == 200
            except Exception:  # noqa: BLE001 - a failed page load is a figure, not a crash
                ok = False
            figures.pages.setdefault(label, []).append((loop.time() - started) * 1000 if ok else float("inf"))
        tick += 1
        await asyncio.sleep(2)


async def run_fleet(
    agents: list[tuple[str, str, int]], ports: list[int], args: argparse.Namespace, figures: Figures,
    hook_port: int,
) -> float:  # fmt: skip
    """Run every agent and the prober until the time is up; return the generator's CPU seconds."""
    import aiohttp
    from aiohttp import web

    async def hook(request: web.Request) -> web.Response:
        await request.read()
        figures.hooks += 1
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", hook_port).start()
    cpu_before = sum(os.times()[:2])
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    stop_at = t0 + args.minutes * 60
    groups = max(1, (len(agents) + GROUP_SIZE - 1) // GROUP_SIZE)
    connector = aiohttp.TCPConnector(limit=args.connections)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        tasks = [
            agent_loop(session, f"http://127.0.0.1:{ports[n % len(ports)]}/api/v1/agent/reports",
                       name, token, group, args, t0, stop_at, figures, groups)
            for n, (name, token, group) in enumerate(agents)
        ]  # fmt: skip
        tasks.append(page_prober(session, f"http://127.0.0.1:{ports[0]}", stop_at, figures))
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=args.minutes * 60 + 60)
    cpu = sum(os.times()[:2]) - cpu_before
    await asyncio.sleep(5)  # let the workers deliver what the last faults caused
    await runner.cleanup()
    return cpu


# -- processes ---------------------------------------------------------------------------


def start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # noqa: S603 - our own programs
        command, env={**os.environ, **env}, stdout=log.open("wb"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip


def stop(process: subprocess.Popen[bytes]) -> None:
    import signal

    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        pass


def timed_worker(out_path: str) -> int:
    """The real background worker, each pass timed into `out_path` (wall time, seconds)."""
    from statuspage.settings import load_settings
    from statuspage.worker import Worker, install_signal_handlers

    out = Path(out_path).open("a")  # noqa: SIM115 - open for the process's life

    class TimedWorker(Worker):
        def run_pass(self) -> None:
            started = time.perf_counter()
            try:
                super().run_pass()
            finally:
                out.write(f"{time.time():.3f} {time.perf_counter() - started:.4f}\n")
                out.flush()

    worker = TimedWorker(load_settings())
    install_signal_handlers(worker)
    worker.run_forever()
    return 0


@dataclass
class EngineResult:
    engine: str
    collectors: int
    workers: int
    figures: Figures
    passes_s: list[float]
    ramp_max_s: float
    outbox: dict[str, Any]
    stored: int
    cpu: dict[str, float]
    load: tuple[float, float, float]
    settings: str


def outbox_lag(location: str, since: str) -> dict[str, Any]:
    """Delivery lag of the outbox rows created during the run (delivered_at - created_at)."""
    from shared.timeutil import from_iso
    from statuspage.storage import sql

    store = sql.open_store(location)
    try:
        rows = sql.tuples(
            store,
            "SELECT created_at, delivered_at FROM outbox WHERE created_at >= :since",
            {"since": since},
        )
        stored = int(
            sql.scalar(store, "SELECT count(*) FROM results WHERE received_at >= :since", {"since": since})
        )
    finally:
        sql.close(store)
    lags = sorted((from_iso(d) - from_iso(c)).total_seconds() for c, d in rows if d)
    return {
        "rows": len(rows),
        "undelivered": sum(1 for _, d in rows if not d),
        "lags_s": lags,
        "stored": stored,
    }


def run_engine(
    engine: str, location: str, settings_line: str, args: argparse.Namespace, tmp: Path
) -> EngineResult:
    collectors = args.pg_collectors if engine == "postgresql" else 1
    workers = args.pg_collectors if engine == "postgresql" else 1
    hook_port = free_port()
    config = tmp / f"{engine}.toml"
    groups = max(1, (args.agents + GROUP_SIZE - 1) // GROUP_SIZE)
    write_config(config, groups, args.checks, f"http://127.0.0.1:{hook_port}/hook")
    started = time.monotonic()
    agents = register_agents(location, args.agents, args.checks, warm=not args.cold)
    print(f"{engine}: {len(agents)} agents registered in {time.monotonic() - started:.0f} s", flush=True)
    env = {"UPWATCH_CONFIG": str(config), "UPWATCH_DATABASE": location, "UPWATCH_LOG_LEVEL": "WARNING"}
    ports = [free_port() for _ in range(collectors)]
    passes = tmp / f"{engine}-passes.txt"
    processes = {
        f"collector {n}": start(
            [str(BIN / "upwatch-statuspage"), "serve", "--no-worker", "--port", str(port),
             "--workers", str(args.workers), "--threads", str(args.threads)],
            env, tmp / f"{engine}-collector-{n}.log",
        )
        for n, port in enumerate(ports)
    }  # fmt: skip
    for n in range(workers):
        processes[f"worker {n}"] = start(
            [sys.executable, __file__, "--timed-worker", str(passes)], env, tmp / f"{engine}-worker-{n}.log"
        )
    figures = Figures()
    since = to_iso(datetime.now(UTC))
    try:
        for port in ports:
            wait_for(lambda p=port: http_get(f"http://127.0.0.1:{p}/healthz")[0] == 200, timeout_s=90)
        cpu_before = {name: group_cpu_s(p.pid) for name, p in processes.items()}
        pg_before = postgres_cpu_s(location)
        fleet_start = time.time()
        generator_cpu = asyncio.run(run_fleet(agents, ports, args, figures, hook_port))
        cpu = {name: group_cpu_s(p.pid) - cpu_before[name] for name, p in processes.items()}
        if pg_before is not None:
            cpu["postgresql"] = (postgres_cpu_s(location) or 0.0) - pg_before
        cpu["load generator"] = generator_cpu
        load = os.getloadavg()
    finally:
        for process in processes.values():
            stop(process)
    outbox = outbox_lag(location, since)
    text = passes.read_text() if passes.exists() else ""
    timed = [(float(at), float(took)) for at, took in (line.split() for line in text.splitlines())]
    # Steady state: passes after the staggered start (every agent's first report is new state).
    passes_s = [took for at, took in timed if at >= fleet_start + 2 * RAMP_S]
    ramp_max_s = max((took for at, took in timed if at < fleet_start + 2 * RAMP_S), default=0.0)
    return EngineResult(engine, collectors, workers, figures, passes_s, ramp_max_s, outbox, outbox["stored"],
                        cpu, load, settings_line)  # fmt: skip


# -- report --------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def report(result: EngineResult, args: argparse.Namespace) -> None:
    f = result.figures
    seconds = args.minutes * 60
    load = " ".join(f"{x:.2f}" for x in result.load)
    per_report = f.acknowledged / max(1, f.reports - f.errors)
    latest = max(f.latencies_ms, default=float("nan"))
    lags = result.outbox["lags_s"]
    p = result.passes_s
    lines = [
        f"== {result.engine}: {result.collectors} collector(s) x {args.workers} gunicorn workers"
        f" x {args.threads} threads, {result.workers} worker(s); {result.settings}",
        f"load average at the end {load} (1/5/15 min), {os.cpu_count()} cores; {args.agents} agents"
        f" x {args.checks} checks every {INTERVAL_S} s for {args.minutes:g} min,"
        f" reports every {args.report_interval:g} s;"
        f" {'cold start (no stored states)' if args.cold else 'check states stored up front (warm)'}",
        f"results: offered {f.offered / seconds:,.0f}/s, acknowledged {f.acknowledged / seconds:,.0f}/s"
        f" ({f.acknowledged:,}; stored {result.stored:,}); reports {f.reports:,}"
        f" ({f.reports / seconds:,.0f}/s, {per_report:.1f} results each); errors {f.errors}"
        f" {f.error_kinds or ''}",
        f"report latency: p50 {pct(f.latencies_ms, 50):.0f} ms, p99 {pct(f.latencies_ms, 99):.0f} ms,"
        f" max {latest:.0f} ms (after the first {RAMP_S} s)",
        f"worker pass: p50 {pct(p, 50) * 1000:.0f} ms, p95 {pct(p, 95) * 1000:.0f} ms,"
        f" max {max(p, default=float('nan')) * 1000:.0f} ms ({len(p)} passes after the first {2 * RAMP_S} s;"
        f" the longest before: {result.ramp_max_s * 1000:.0f} ms)",
        f"outbox: {result.outbox['rows']} rows, {result.outbox['undelivered']} undelivered;"
        f" lag p50 {pct(lags, 50):.1f} s, max {max(lags, default=float('nan')):.1f} s;"
        f" webhook calls received {f.hooks}",
    ]
    for label, times in f.pages.items():
        ok = [t for t in times if t != float("inf")]
        lines.append(
            f"page {label}: p50 {pct(ok, 50):.0f} ms, p95 {pct(ok, 95):.0f} ms"
            f" ({len(ok)} loads, {len(times) - len(ok)} failed)"
        )
    cpu = ", ".join(f"{name} {s:.0f}" for name, s in result.cpu.items())
    lines.append(f"CPU seconds: {cpu} (of {seconds * (os.cpu_count() or 1):.0f} available)")
    print()
    print("\n".join(lines))


def main() -> int:
    if len(sys.argv) == 3 and sys.argv[1] == "--timed-worker":
        return timed_worker(sys.argv[2])
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--checks", type=int, default=20, help="checks per agent")
    parser.add_argument("--minutes", type=float, default=10.0, help="per engine")
    parser.add_argument("--engines", default="postgresql,sqlite")
    parser.add_argument("--database", help="an existing PostgreSQL URL (default: a throwaway server)")
    parser.add_argument("--report-interval", type=float, default=2.0, help="the agents' report_interval_s")
    parser.add_argument("--pg-collectors", type=int, default=2, help="collectors and workers on PostgreSQL")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per collector")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--connections", type=int, default=256, help="the generator's socket limit")
    parser.add_argument("--cold", action="store_true", help="no stored check states: a cold start")
    args = parser.parse_args()
    engines = args.engines.split(",")
    if "postgresql" in engines and not pg.available(args.database):
        print("PostgreSQL is not installed (scripts/test-setup.sh) and no --database given: SQLite only")
        engines.remove("postgresql")
    tmp = Path(tempfile.mkdtemp(prefix="upwatch-fleet-"))
    results = []
    databases: Callable[[], Any] = pg.databases if "postgresql" in engines else lambda _url: nullcontext(str)
    with databases(args.database) as new_database:
        for engine in engines:
            if engine == "postgresql":
                location = new_database()
                line = pg.settings_line(location)
            else:
                location = str(tmp / "fleet.db")
                line = "SQLite: WAL, synchronous=NORMAL (upwatch's own settings)"
            results.append(run_engine(engine, location, line, args, tmp))
    for result in results:
        report(result, args)
    print(f"\nlogs: {tmp}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
