"""Benchmark of the public page with a year of data, against the production server.

Seeds a database with 200 components (one 30 s HTTP check each), 3 locations,
400 days of hourly/daily rollups and daily component uptime, 7 days of
per-minute rollups and 14 days of raw results at 30 s intervals (24 million
rows, generated inside SQLite with recursive CTEs), then starts
`upwatch-statuspage serve` (gunicorn + worker) while three simulated agents
report every 30 s, and measures p50/p95 latency of `/`, `/api/v2/summary.json`
and `/history`: served normally (the render cache valid) and forced to render
(a unique query string per request defeats the cache).

    .venv/bin/python bench/page.py [--raw-days 14] [--history-days 400] [--requests 300]
                                   [--keep DIR [--reuse]] [--lighthouse]

Requests send `Accept-Encoding: gzip` as browsers do; the table shows the bytes on the wire.
It also reports `/`'s uncompressed HTML bytes, its element count (every start tag, SVG
included: what Lighthouse's `dom-size` counts) and the CPU time one forced render costs
the server (load-independent, unlike the wall-clock percentiles). `--lighthouse` adds
Lighthouse performance scores, mobile and desktop, when `npx lighthouse` and Chromium
(CHROME_PATH, default /usr/bin/chromium) are present. A quick run on a small data set:
`--raw-days 1 --history-days 100 --requests 100` (the 90-day bars need only 90 days).
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
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from shared.timeutil import to_iso  # noqa: E402
from statuspage.db import open_and_migrate  # noqa: E402
from statuspage.storage.agents import create_agent, revoke_agent  # noqa: E402

COMPONENTS = 200
GROUPS = 10
AGENTS = ["edge-eu", "edge-us", "edge-ap"]
INTERVAL_S = 30


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


def seed(db_path: Path, now: datetime, raw_days: int, history_days: int = 400) -> dict[str, str]:
    """Create the schema, the agents and every table the page reads; return agent tokens."""
    db = open_and_migrate(db_path)
    tokens = {name: create_agent(db, name, ["bench"], now)[1] for name in AGENTS}
    db.conn.close()
    conn = sqlite3.connect(db_path, isolation_level=None)
    # A rollback journal for the bulk load: new pages need no journal, whereas WAL would
    # write every page twice (once to the log, once at checkpoint).
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA cache_size = -400000")
    now_ts = int(now.timestamp()) // INTERVAL_S * INTERVAL_S
    conn.execute("BEGIN")
    conn.execute("CREATE TEMP TABLE k(n INTEGER PRIMARY KEY, id TEXT)")
    conn.executemany("INSERT INTO k VALUES (?, ?)", [(c, f"k{c:03d}") for c in range(COMPONENTS)])
    conn.execute("CREATE TEMP TABLE a(n INTEGER PRIMARY KEY, name TEXT)")
    conn.executemany("INSERT INTO a VALUES (?, ?)", list(enumerate(AGENTS)))
    conn.execute("COMMIT")

    def timed(label: str, sql: str, params: tuple[object, ...] = ()) -> None:
        started = time.monotonic()
        conn.execute("BEGIN")
        conn.execute(sql, params)
        conn.execute("COMMIT")
        print(f"  seeded {label} in {time.monotonic() - started:.1f} s", flush=True)

    # Raw results: time outermost so ids (and the PK index) grow in order. 1 in 997 is down.
    ticks = raw_days * 86400 // INTERVAL_S
    timed(
        "results",
        "WITH RECURSIVE t(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM t WHERE i < ?)"
        " INSERT INTO results (id, check_id, agent, started_at, received_at, latency_ms, status)"
        " SELECT printf('r%08d-%03d-%d', t.i, k.n, a.n), k.id, a.name,"
        "  strftime('%Y-%m-%dT%H:%M:%S.000+00:00', ? - (? - t.i) * ?, 'unixepoch'),"
        "  strftime('%Y-%m-%dT%H:%M:%S.000+00:00', ? - (? - t.i) * ? + 1, 'unixepoch'),"
        "  20 + (t.i * 7 + k.n * 13 + a.n) % 180,"
        "  CASE WHEN (t.i + k.n * 31 + a.n) % 997 = 0 THEN 'down' ELSE 'up' END"
        " FROM t CROSS JOIN k CROSS JOIN a",
        (ticks, now_ts, ticks, INTERVAL_S, now_ts, ticks, INTERVAL_S),
    )
    rollup = (
        "WITH RECURSIVE t(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM t WHERE i < ?)"
        # Series outermost and time ascending: rows arrive in primary-key order.
        " INSERT INTO {table} SELECT k.id, a.name,"
        " substr(strftime('%Y-%m-%dT%H:%M:%S', ? - (? - t.i) * ?, 'unixepoch'), 1, {cut}),"
        " ?, ? - (t.i + k.n) % 3 / 2, 0, (t.i + k.n) % 3 / 2, ? * 110.0, 199.0"
        " FROM k CROSS JOIN a CROSS JOIN t"
    )
    for table, buckets, step, cut in (
        # A week of minutes (fewer when fewer raw days are asked for: a quick small run).
        ("rollups_minute", min(7, max(1, raw_days)) * 1440, 60, 16),
        ("rollups_hour", history_days * 24, 3600, 13),
        ("rollups_day", history_days, 86400, 10),
    ):
        per = step // INTERVAL_S
        timed(
            table,
            rollup.format(table=table, cut=cut),
            (buckets - 1, now_ts, buckets - 1, step, per, per, per),
        )
    timed(
        "result_counters",
        "INSERT INTO result_counters SELECT k.id, a.name, s.status,"
        " CASE s.status WHEN 'up' THEN 1150000 ELSE 1150 END"
        " FROM k CROSS JOIN a CROSS JOIN (SELECT 'up' AS status UNION ALL SELECT 'down') s",
    )
    start = to_iso(now - timedelta(days=history_days))
    timed(
        "component_status",
        "INSERT INTO component_status (component_id, status, updated_at)"
        " SELECT printf('c%03d', n), 'operational', ? FROM k",
        (start,),
    )
    timed(
        "component_status_history",
        "INSERT INTO component_status_history (component_id, status, started_at)"
        " SELECT printf('c%03d', n), 'operational', ? FROM k",
        (start,),
    )
    # Daily uptime: mostly clean days, an outage of 10-60 minutes every ~40 days per component.
    timed(
        "component_days",
        "WITH RECURSIVE d(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM d WHERE i < ?)"
        " INSERT INTO component_days (component_id, day, operational_s, major_s)"
        " SELECT printf('c%03d', k.n), date(?, 'unixepoch', -d.i || ' days'),"
        "  86400 - CASE WHEN (d.i + k.n) % 40 = 0 THEN 600 * (1 + k.n % 6) ELSE 0 END,"
        "  CASE WHEN (d.i + k.n) % 40 = 0 THEN 600 * (1 + k.n % 6) ELSE 0 END FROM d CROSS JOIN k",
        (history_days - 1, now_ts),
    )
    timed(
        "check_states",
        "INSERT INTO check_states (check_id, agent, status, since, consecutive_failures,"
        " consecutive_successes,"
        " last_result_at, last_latency_ms) SELECT k.id, a.name, 'up', ?, 0, 10, ?, 42 FROM k CROSS JOIN a",
        (start, to_iso(now)),
    )
    _seed_incidents(conn, now, history_days)
    top = conn.execute("SELECT max(rowid) FROM results").fetchone()[0]
    conn.execute("BEGIN")
    for name, value in (
        ("results_rowid", str(top)),
        ("component_days_day", now.date().isoformat()),
        ("pruned_at", to_iso(now)),
    ):
        conn.execute("INSERT OR REPLACE INTO rollup_watermarks VALUES (?, ?)", [name, value])
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.close()
    return tokens


def _seed_incidents(conn: sqlite3.Connection, now: datetime, history_days: int) -> None:
    """Two incidents per component over the history (400 days: about one a day), two still open."""
    conn.execute("BEGIN")
    for n in range(COMPONENTS * 2):
        step_h = history_days * 24 / (COMPONENTS * 2)
        created = now - timedelta(days=history_days) + timedelta(hours=n * step_h + (n * 7) % 24)
        is_open = n >= COMPONENTS * 2 - 2
        created = now - timedelta(minutes=30 + n % 7) if is_open else created
        resolved = None if is_open else created + timedelta(minutes=10 + n % 50)
        status = "identified" if is_open else "resolved"
        cursor = conn.execute(
            "INSERT INTO incidents (title, status, impact, created_at, updated_at, resolved_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [f"Errors on component {n % COMPONENTS:03d}", status, ("minor", "major", "critical")[n % 3],
             to_iso(created), to_iso(resolved or created), to_iso(resolved) if resolved else None],
        )  # fmt: skip
        incident_id = cursor.lastrowid
        component = f"c{n % COMPONENTS:03d}"
        conn.execute(
            "INSERT INTO incident_components VALUES (?, ?, 'major_outage')", [incident_id, component]
        )
        affected = json.dumps(
            [{"component_id": component, "old_status": "operational", "new_status": "major_outage"}]
        )
        updates = [("investigating", created), ("identified", created + timedelta(minutes=5))]
        if resolved:
            updates.append(("resolved", resolved))
        for status_name, at in updates:
            conn.execute(
                "INSERT INTO incident_updates (incident_id, status, body, created_at, actor,"
                " affected_components)"
                " VALUES (?, ?, ?, ?, 'engine', ?)",
                [incident_id, status_name, f"Update: {status_name}.", to_iso(at), affected],
            )
    conn.execute("COMMIT")
    print(f"  seeded incidents: {COMPONENTS * 2} with updates", flush=True)


def fresh_tokens(db_path: Path, now: datetime) -> dict[str, str]:
    """New tokens for the agents of an existing bench database (only hashes are stored)."""
    db = open_and_migrate(db_path)
    tokens = {}
    for name in AGENTS:
        revoke_agent(db, name, now)
        tokens[name] = create_agent(db, name, ["bench"], now)[1]
    db.conn.close()
    return tokens


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


def lighthouse(port: int) -> dict[str, str]:
    """Lighthouse performance score of `/` per form factor (empty when it cannot run)."""
    chrome = os.environ.get("CHROME_PATH", "/usr/bin/chromium")
    if not (shutil.which("npx") and Path(chrome).exists()):
        return {}
    scores = {}
    for preset in ("mobile", "desktop"):
        command = ["npx", "--yes", "lighthouse", f"http://127.0.0.1:{port}/", "--quiet",
                   "--only-categories=performance", "--output=json", "--output-path=stdout",
                   "--chrome-flags=--headless=new --no-sandbox"]  # fmt: skip
        if preset == "desktop":
            command.append("--preset=desktop")
        done = subprocess.run(  # noqa: S603
            command, capture_output=True, text=True, env={**os.environ, "CHROME_PATH": chrome}, check=False
        )
        try:
            report = json.loads(done.stdout)
        except json.JSONDecodeError:
            scores[preset] = f"failed: {done.stderr.strip()[-200:]}"
            continue
        audits = report["audits"]
        scores[preset] = (
            f"performance {report['categories']['performance']['score'] * 100:.0f},"
            f" TBT {audits['total-blocking-time']['numericValue']:.0f} ms,"
            f" DOM elements {audits['dom-size']['numericValue']:.0f}"
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


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--raw-days", type=int, default=14)
    parser.add_argument("--history-days", type=int, default=400, help="days of rollups and incidents")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--lighthouse", action="store_true", help="also run Lighthouse on / (slow)")
    parser.add_argument("--keep", type=Path, help="seed here and keep the database afterwards")
    parser.add_argument("--reuse", action="store_true", help="with --keep: measure the kept database again")
    args = parser.parse_args()
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="upwatch-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    config, db_path = workdir / "bench.toml", workdir / "bench.db"
    now = datetime.now(UTC)
    started = time.monotonic()
    if args.reuse and db_path.exists():
        tokens = fresh_tokens(db_path, now)
    else:
        for stale in workdir.glob("bench.db*"):
            stale.unlink()
        write_config(config)
        print(
            f"seeding {db_path} ({COMPONENTS} components, {len(AGENTS)} locations, {args.raw_days} days raw)"
        )
        tokens = seed(db_path, now, args.raw_days, args.history_days)
    seed_s = time.monotonic() - started
    size = sum(p.stat().st_size for p in workdir.glob("bench.db*"))
    port = free_port()
    env = {**os.environ, "UPWATCH_CONFIG": str(config), "UPWATCH_DATABASE": str(db_path)}
    server = subprocess.Popen(  # noqa: S603
        [str(Path(sys.executable).parent / "upwatch-statuspage"), "serve", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    feeder = Feeder(port, tokens)
    rows: list[tuple[str, str, float, float, int]] = []
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                http.client.HTTPConnection("127.0.0.1", port, timeout=2).request("GET", "/healthz")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        feeder.start()
        time.sleep(2)
        html_bytes, elements, rects = page_shape(port)
        cpu_before = server_cpu_s(server.pid)
        renders = max(20, args.requests // 3)
        measure(port, "/", renders - 10, unique=True)
        render_cpu_ms = (server_cpu_s(server.pid) - cpu_before) * 1000 / renders
        scores = lighthouse(port) if args.lighthouse else {}
        for path in ("/", "/api/v2/summary.json", "/history"):
            for unique, mode in ((False, "served (cache valid)"), (True, "rendered (cache bypassed)")):
                p50, p95, body = measure(port, path, args.requests, unique)
                rows.append((path, mode, p50, p95, body))
    finally:
        feeder.stop_event.set()
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    counts = sqlite3.connect(db_path)
    raw = counts.execute("SELECT count(*) FROM results").fetchone()[0]
    hourly = counts.execute("SELECT count(*) FROM rollups_hour").fetchone()[0]
    counts.close()
    print()
    print(
        f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f};"
        f" seeding took {seed_s:.0f} s;"
        f" results ingested while measuring: {feeder.sent}"
    )
    print(f"database: {size / 1e9:.2f} GB ({raw:,} raw results, {hourly:,} hourly rollups)")
    print(
        f"/: {html_bytes:,} bytes of HTML, {elements:,} elements ({rects:,} <rect>);"
        f" server CPU per forced render {render_cpu_ms:.1f} ms (includes the feeder's ingest)"
    )
    for preset, score in scores.items():
        print(f"lighthouse {preset}: {score}")
    print(f"{'path':24} {'mode':28} {'p50 ms':>8} {'p95 ms':>8} {'wire bytes':>10}")
    for path, mode, p50, p95, body in rows:
        print(f"{path:24} {mode:28} {p50:8.1f} {p95:8.1f} {body:10,}")
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
