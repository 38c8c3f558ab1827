"""Benchmark of the public page with a year of data, against the production server, on SQLite
and on PostgreSQL.

Seeds a database with 200 components (one 30 s HTTP check each), 3 locations,
400 days of hourly/daily rollups and daily component uptime, 7 days of
per-minute rollups and 14 days of raw results at 30 s intervals (24 million
rows, generated inside the database: bench/common/page_seed.py), then starts
`upwatch-statuspage serve` (gunicorn + worker) while three simulated agents
report every 30 s, and measures p50/p95 latency of `/`, `/api/v2/summary.json`
and `/history`: served normally (the render cache valid) and forced to render
(a unique query string per request defeats the cache). Both engines in turn,
SQLite first: PostgreSQL on `--database URL` or, without it, on a throwaway
server started like the tests' with durability on (bench/common/postgres.py);
its settings are printed, read from the server.

    .venv/bin/python bench/page.py [--raw-days 14] [--pg-raw-days N] [--history-days 400]
                                   [--requests 300] [--engines sqlite,postgresql]
                                   [--paths /,/api/v2/summary.json,/history]
                                   [--database URL] [--keep DIR] [--reuse]
                                   [--lighthouse [--lighthouse-runs 3]]

`--reuse` measures an already seeded database again (the SQLite file in `--keep DIR`,
the PostgreSQL database at `--database`) with fresh agent tokens.
Requests send `Accept-Encoding: gzip` as browsers do; the table shows the bytes on the wire.
It also reports `/`'s uncompressed HTML bytes, its element count (every start tag, SVG
included: what Lighthouse's `dom-size` counts) and the CPU time one forced render costs
the server (load-independent, unlike the wall-clock percentiles): counted once the
agents' first reports are in, minus what the server (its worker included) spends in an idle
stretch of the same length. `--lighthouse` adds Lighthouse performance, mobile and desktop,
when `npx` and Chromium (CHROME_PATH, default /usr/bin/chromium) are present: LIGHTHOUSE
(pinned below; 12.x runs on Node 18.16+, 13.x needs Node 22) runs `--lighthouse-runs` times
per form factor and the median run by score is shown with every run's score and total
blocking time, as Lighthouse's docs advise on a noisy machine (a failed run, such as one
whose trace Lighthouse lost, NO_NAVSTART, is run again, at most LIGHTHOUSE_RETRIES times
per form factor). A quick run on a small data set: `--raw-days 1 --history-days 100
--requests 100` (the 90-day bars need only 90 days).
"""

from __future__ import annotations

import argparse
import html.parser
import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIGHTHOUSE = "lighthouse@12.8.2"
LIGHTHOUSE_RETRIES = 2  # failed runs run again, per form factor
sys.path.insert(0, str(ROOT))

from bench.common import postgres as pg  # noqa: E402
from bench.common.page_seed import COMPONENTS, GROUPS, INTERVAL_S, fresh_tokens, is_seeded, seed  # noqa: E402
from statuspage.storage import sql  # noqa: E402


def write_config(path: Path) -> None:
    lines = ['[page]\nname = "Bench Status"\nurl = "https://status.bench.test"\n']
    for g in range(GROUPS):
        lines.append(f'[[groups]]\nid = "g{g}"\nname = "Service group {g}"\n')
    for c in range(COMPONENTS):
        lines.append(
            f'[[components]]\nid = "c{c:03d}"\nname = "Component {c:03d}"\ngroup = "g{c % GROUPS}"\n'
        )
    for c in range(COMPONENTS):
        lines.append(
            f'[[checks]]\nid = "k{c:03d}"\ncomponent = "c{c:03d}"\nkind = "http"\n'
            f'url = "http://127.0.0.1:9/{c}"\ninterval = "{INTERVAL_S}s"\nrun_on = ["*"]\n'
        )
    path.write_text("\n".join(lines))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Feeder(threading.Thread):
    """Three agents reporting every check every 30 s, as production would."""

    def __init__(self, port: int, tokens: dict[str, str]):
        super().__init__(daemon=True)
        self.port = port
        self.tokens = tokens
        self.stop_event = threading.Event()
        self.sent = 0

    def run(self) -> None:
        while not self.stop_event.is_set():
            for agent, token in self.tokens.items():
                at = datetime.now(UTC).isoformat()
                results = [
                    {"id": str(uuid.uuid4()), "check_id": f"k{c:03d}", "started_at": at, "latency_ms": 40.0,
                     "status": "up"}
                    for c in range(COMPONENTS)
                ]  # fmt: skip
                body = json.dumps(
                    {"agent": agent, "agent_version": "bench", "sent_at": at, "results": results}
                )
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
                conn.request("POST", "/api/v1/agent/reports", body, headers)
                response = conn.getresponse()
                response.read()
                conn.close()
                self.sent += len(results) if response.status == 200 else 0
            self.stop_event.wait(INTERVAL_S)


class ElementCounter(html.parser.HTMLParser):
    """Counts elements (start tags, self-closing included) and <rect>s."""

    def __init__(self) -> None:
        super().__init__()
        self.elements = 0
        self.rects = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements += 1
        self.rects += tag == "rect"


def page_shape(port: int) -> tuple[int, int, int]:
    """(uncompressed bytes, elements, rects) of `/`."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/")
    body = conn.getresponse().read()
    conn.close()
    counter = ElementCounter()
    counter.feed(body.decode())
    return len(body), counter.elements, counter.rects


def server_cpu_s(server_pid: int) -> float:
    """User + system CPU seconds of the server's process group so far (Linux /proc)."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == server_pid:  # pgrp (the server runs in its own session)
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def _lighthouse_run(url: str, preset: str, chrome: str) -> dict[str, float] | str:
    """One Lighthouse run: its figures, or why it failed."""
    command = ["npx", "--yes", LIGHTHOUSE, url, "--quiet", "--only-categories=performance", "--output=json",
               "--output-path=stdout", "--chrome-flags=--headless=new --no-sandbox"]  # fmt: skip
    if preset == "desktop":
        command.append("--preset=desktop")
    done = subprocess.run(  # noqa: S603
        command, capture_output=True, text=True, env={**os.environ, "CHROME_PATH": chrome}, check=False
    )
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        return f"failed: {done.stderr.strip()[-200:]}"
    audits = report["audits"]
    return {
        "score": report["categories"]["performance"]["score"] * 100,
        "tbt": audits["total-blocking-time"]["numericValue"],
        "fcp": audits["first-contentful-paint"]["numericValue"],
        "lcp": audits["largest-contentful-paint"]["numericValue"],
        "dom": audits["dom-size"]["numericValue"],
    }


def lighthouse(port: int, runs: int) -> dict[str, str]:
    """Lighthouse performance of `/` per form factor, the median of `runs` (empty when it cannot run)."""
    chrome = os.environ.get("CHROME_PATH", "/usr/bin/chromium")
    if not (shutil.which("npx") and Path(chrome).exists()):
        return {}
    scores = {}
    for preset in ("mobile", "desktop"):
        results = []
        retried = 0
        for _ in range(runs):
            while True:
                load = os.getloadavg()[0]
                result = _lighthouse_run(f"http://127.0.0.1:{port}/", preset, chrome)
                if not isinstance(result, str) or retried == LIGHTHOUSE_RETRIES:
                    break
                # Any failure is run again: most are Lighthouse losing its own trace of
                # the load (NO_NAVSTART, NO_FCP), which says nothing about the page.
                retried += 1
            if isinstance(result, str):
                scores[preset] = result
                break
            results.append((result, load))
        else:
            results.sort(key=lambda r: (r[0]["score"], -r[0]["tbt"]))
            median, load = results[len(results) // 2]
            every = ", ".join(f"{r['score']:.0f}/{r['tbt']:.0f}" for r, _load in results)
            scores[preset] = (
                f"performance {median['score']:.0f}, TBT {median['tbt']:.0f} ms,"
                f" FCP {median['fcp']:.0f} ms, LCP {median['lcp']:.0f} ms,"
                f" DOM elements {median['dom']:.0f} (median of {runs}, load {load:.1f} at its start;"
                f" every run's score/TBT: {every}"
                + (f"; {retried} failed run(s) run again" if retried else "")
                + ")"
            )
    return scores


def measure(port: int, path: str, requests: int, unique: bool) -> tuple[float, float, int]:
    """Sequential GETs over one keep-alive connection; return (p50 ms, p95 ms, body bytes)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    times = []
    size = 0
    for i in range(requests + 10):
        target = f"{path}{'&' if '?' in path else '?'}bench={i}-{uuid.uuid4().hex[:6]}" if unique else path
        started = time.perf_counter()
        conn.request("GET", target, headers={"Accept-Encoding": "gzip"})
        response = conn.getresponse()
        body = response.read()
        elapsed = (time.perf_counter() - started) * 1000
        assert response.status == 200, (target, response.status)
        size = len(body)
        if i >= 10:  # warm-up
            times.append(elapsed)
    conn.close()
    cuts = statistics.quantiles(times, n=100)
    return statistics.median(times), cuts[94], size


@dataclass
class EngineRun:
    """What one engine's measurement produced."""

    engine: str
    seed_s: float
    seeded: bool
    size: str
    counts: tuple[int, int]
    shape: tuple[int, int, int]
    render_cpu_ms: float
    sent: int
    load: tuple[float, float, float]
    rows: list[tuple[str, str, float, float, int]] = field(default_factory=list)
    scores: dict[str, str] = field(default_factory=dict)


def wait_healthy(port: int) -> None:
    deadline = time.monotonic() + 90
    while True:
        try:
            http.client.HTTPConnection("127.0.0.1", port, timeout=2).request("GET", "/healthz")
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def database_size(location: str, workdir: Path) -> str:
    if not location.startswith("postgresql"):
        return f"{sum(p.stat().st_size for p in workdir.glob('bench.db*')) / 1e9:.2f} GB"
    store = sql.open_store(location)
    try:
        return f"{int(sql.scalar(store, 'SELECT pg_database_size(current_database())')) / 1e9:.2f} GB"
    finally:
        sql.close(store)


def row_counts(location: str) -> tuple[int, int]:
    """(raw results, hourly rollups)."""
    store = sql.open_store(location)
    try:
        raw = int(sql.scalar(store, "SELECT count(*) FROM results"))
        return raw, int(sql.scalar(store, "SELECT count(*) FROM rollups_hour"))
    finally:
        sql.close(store)


def run_engine(engine: str, location: str, workdir: Path, args: argparse.Namespace) -> EngineRun:
    """Seed (or reuse) the database, serve it with `serve` while the feeder reports, measure."""
    config = workdir / "bench.toml"
    write_config(config)
    now = datetime.now(UTC)
    started = time.monotonic()
    reuse = args.reuse and is_seeded(location)
    if reuse:
        tokens = fresh_tokens(location, now)
    else:
        print(f"seeding {engine} ({COMPONENTS} components, 3 locations, {args.raw_days} days raw,"
              f" {args.history_days} days of rollups)", flush=True)  # fmt: skip
        tokens = seed(location, now, args.raw_days, args.history_days)
    seed_s = time.monotonic() - started
    port = free_port()
    env = {**os.environ, "UPWATCH_CONFIG": str(config), "UPWATCH_DATABASE": location}
    server = subprocess.Popen(  # noqa: S603
        [str(Path(sys.executable).parent / "upwatch-statuspage"), "serve", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    feeder = Feeder(port, tokens)
    try:
        wait_healthy(port)
        feeder.start()
        # The agents' first reports (and the evaluation they cause) land before CPU is counted.
        deadline = time.monotonic() + 60
        while feeder.sent < COMPONENTS * len(tokens) and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(2)
        shape = page_shape(port)
        cpu_before, wall_before = server_cpu_s(server.pid), time.monotonic()
        renders = max(20, args.requests // 3)
        measure(port, "/", renders - 10, unique=True)
        busy_cpu_s, busy_s = server_cpu_s(server.pid) - cpu_before, time.monotonic() - wall_before
        cpu_before = server_cpu_s(server.pid)
        time.sleep(busy_s)  # the same stretch without requests: the worker's own passes
        idle_cpu_s = server_cpu_s(server.pid) - cpu_before
        render_cpu_ms = max(0.0, busy_cpu_s - idle_cpu_s) * 1000 / renders
        scores = lighthouse(port, args.lighthouse_runs) if args.lighthouse else {}
        rows = []
        for path in args.paths.split(","):
            for unique, mode in ((False, "served (cache valid)"), (True, "rendered (cache bypassed)")):
                p50, p95, body = measure(port, path, args.requests, unique)
                rows.append((path, mode, p50, p95, body))
        load = os.getloadavg()
    finally:
        feeder.stop_event.set()
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    return EngineRun(engine, seed_s, not reuse, database_size(location, workdir), row_counts(location),
                     shape, render_cpu_ms, feeder.sent, load, rows, scores)  # fmt: skip


def report(run: EngineRun, settings_line: str) -> None:
    html_bytes, elements, rects = run.shape
    raw, hourly = run.counts
    seeding = f"seeding took {run.seed_s:.0f} s" if run.seeded else "reused a seeded database"
    print()
    print(f"== {run.engine}: {settings_line}")
    print(
        f"machine: {os.cpu_count()} cores, load average {run.load[0]:.2f} {run.load[1]:.2f} {run.load[2]:.2f}"
        f" (1/5/15 min, at the end); {seeding}; results ingested while measuring: {run.sent}"
    )
    print(f"database: {run.size} ({raw:,} raw results, {hourly:,} hourly rollups)")
    print(
        f"/: {html_bytes:,} bytes of HTML, {elements:,} elements ({rects:,} <rect>);"
        f" server CPU per forced render {run.render_cpu_ms:.1f} ms (net of an idle stretch's)"
    )
    for preset, score in run.scores.items():
        print(f"lighthouse {preset}: {score}")
    print(f"{'path':24} {'mode':28} {'p50 ms':>8} {'p95 ms':>8} {'wire bytes':>10}")
    for path, mode, p50, p95, body in run.rows:
        print(f"{path:24} {mode:28} {p50:8.1f} {p95:8.1f} {body:10,}")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--raw-days", type=int, default=14)
    parser.add_argument("--pg-raw-days", type=int, help="raw days on PostgreSQL (default: --raw-days)")
    parser.add_argument("--history-days", type=int, default=400, help="days of rollups and incidents")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--lighthouse", action="store_true", help="also run Lighthouse on / (slow)")
    parser.add_argument("--lighthouse-runs", type=int, default=3, help="runs per form factor (median shown)")
    parser.add_argument("--keep", type=Path, help="seed here and keep the SQLite database afterwards")
    parser.add_argument("--reuse", action="store_true", help="measure an already seeded database again")
    parser.add_argument("--database", help="an existing PostgreSQL URL (default: a throwaway server)")
    parser.add_argument("--engines", default="sqlite,postgresql", help="which engines, in order")
    parser.add_argument("--paths", default="/,/api/v2/summary.json,/history", help="pages measured")
    args = parser.parse_args()
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="upwatch-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    engines = args.engines.split(",")
    if "postgresql" in engines and not pg.available(args.database):
        print("PostgreSQL is not installed (scripts/test-setup.sh) and no --database given: SQLite only")
        engines.remove("postgresql")
    runs = []
    with pg.databases(args.database) if "postgresql" in engines else nullcontext(lambda: "") as new_database:
        for engine in engines:
            if engine == "postgresql":
                location = new_database()
                pg_args = argparse.Namespace(**{**vars(args), "raw_days": args.pg_raw_days or args.raw_days})
                runs.append((run_engine(engine, location, workdir, pg_args), pg.settings_line(location)))
            else:
                db_path = workdir / "bench.db"
                if not args.reuse:
                    for stale in workdir.glob("bench.db*"):
                        stale.unlink()
                run = run_engine(engine, str(db_path), workdir, args)
                runs.append((run, "SQLite: WAL, synchronous=NORMAL (upwatch's own settings)"))
    for run, line in runs:
        report(run, line)
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
