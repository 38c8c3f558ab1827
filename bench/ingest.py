"""Ingest throughput: sustained results/s into running collectors on SQLite and PostgreSQL vs a
minimal Flask + sqlite3 ceiling, all in one run.

Starts, on loopback: (1) the real collector on a SQLite file (`upwatch-statuspage
serve`: gunicorn gthread plus its worker process); (2) one collector on
PostgreSQL and (3) two collectors (two `serve` processes on separate ports, one
database; the senders split between them), on `--database URL` or, without it,
on a throwaway PostgreSQL server started like the tests' (tests/pg.py, with
durability on: bench/common/postgres.py); (4) a minimal Flask app under the
same gunicorn settings whose endpoint only parses the JSON and inserts the
rows (executemany, one transaction) into an identical SQLite table. Then, for
batches of 1, 100 and 500 results, concurrent sender processes post pre-built
reports (every result a fresh UUID) over keep-alive connections for a fixed
time, rounds alternating over the four, and the acknowledged results per
second are printed with the ratio to the ceiling and the PostgreSQL server's
settings (read from the server). Bounded: each phase stops after `--seconds`
or MAX_REQUESTS.

    .venv/bin/python bench/ingest.py [--senders 4] [--seconds 3] [--rounds 3] [--workers 2]
                                     [--threads 4] [--batches 1,100,500] [--database URL]
                                     [--no-postgresql]

Prints figures; it is not a test.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import postgres as pg  # noqa: E402
from shared.ids import new_result_id  # noqa: E402
from tests.helpers import BIN, free_port, http_get, wait_for  # noqa: E402

CHECKS = 20
MAX_REQUESTS = 200_000
# Bodies are built before a phase; each sender stamps the real sending time into this
# placeholder (same length as an ISO time), as an agent does when it sends.
SENT_AT = "2000-01-01T00:00:00.000+00:00"

CONFIG = """
[page]
name = "Bench"
{components}
{checks}
"""

CEILING_APP = '''
"""The ceiling: Flask + sqlite3, parse JSON, insert rows, nothing else."""
import json, os, sqlite3, threading
from flask import Flask, request, Response

app = Flask(__name__)
local = threading.local()
SCHEMA = """CREATE TABLE IF NOT EXISTS results (id TEXT PRIMARY KEY, check_id TEXT NOT NULL,
 agent TEXT NOT NULL, started_at TEXT NOT NULL, received_at TEXT NOT NULL, latency_ms REAL NOT NULL,
 status TEXT NOT NULL, error TEXT, metrics TEXT NOT NULL DEFAULT '{}', detail TEXT NOT NULL DEFAULT '{}');
 CREATE INDEX IF NOT EXISTS results_check_time ON results(check_id, started_at);"""

def conn():
    c = getattr(local, "conn", None)
    if c is None:
        c = sqlite3.connect(os.environ["CEILING_DB"], isolation_level=None, timeout=10)
        c.execute("PRAGMA journal_mode = WAL"); c.execute("PRAGMA synchronous = NORMAL")
        c.execute("PRAGMA busy_timeout = 10000")
        c.executescript(SCHEMA)
        local.conn = c
    return c

@app.post("/ingest")
def ingest():
    data = json.loads(request.get_data())
    rows = [(r["id"], r["check_id"], data["agent"], r["started_at"], data["sent_at"], r["latency_ms"],
             r["status"], r.get("error"), json.dumps(r.get("metrics", {})), json.dumps(r.get("detail", {})))
            for r in data["results"]]
    c = conn()
    c.execute("BEGIN IMMEDIATE")
    c.executemany("INSERT INTO results VALUES (?,?,?,?,?,?,?,?,?,?)", rows)
    c.execute("COMMIT")
    return Response(json.dumps({"accepted": len(rows)}), mimetype="application/json")
'''


def build_config(path: Path) -> None:
    components = "".join(f'\n[[components]]\nid = "c{i}"\nname = "Component {i}"\n' for i in range(5))
    checks = "".join(
        f'\n[[checks]]\nid = "check-{i}"\ncomponent = "c{i % 5}"\nkind = "tcp"\nhost = "127.0.0.1"\n'
        f'port = 9\ninterval = "30s"\ntimeout = "5s"\nrun_on = ["*"]\n'
        for i in range(CHECKS)
    )
    path.write_text(CONFIG.format(components=components, checks=checks))


def make_reports(agent: str, batch: int, count: int) -> list[bytes]:
    """Pre-built report bodies, so the senders spend their CPU on HTTP, not on JSON."""
    now = datetime.now(UTC)
    bodies = []
    for n in range(count):
        results = [
            {
                "id": str(new_result_id()),
                "check_id": f"check-{(n * batch + i) % CHECKS}",
                "started_at": (now - timedelta(milliseconds=batch - i)).isoformat(timespec="milliseconds"),
                "latency_ms": 12.5,
                "status": "up",
                "metrics": {"probe_duration_seconds": 0.0125},
                "detail": {},
            }
            for i in range(batch)
        ]
        report = {
            "protocol": 1,
            "agent": agent,
            "agent_version": "bench",
            "sent_at": SENT_AT,
            "results": results,
        }
        bodies.append(json.dumps(report).encode())
    return bodies


def sender(port: int, path: str, token: str, bodies: list[bytes], seconds: float, out: mp.Queue) -> None:
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    sent = acknowledged = errors = 0
    deadline = time.monotonic() + seconds
    started = time.monotonic()
    for body in bodies:
        if time.monotonic() >= deadline:
            break
        stamp = datetime.now(UTC).isoformat(timespec="milliseconds").encode()
        body = body.replace(SENT_AT.encode(), stamp, 1)
        try:
            conn.request("POST", path, body=body, headers=headers)
            response = conn.getresponse()
            payload = response.read()
        except (OSError, http.client.HTTPException):
            errors += 1
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            continue
        sent += 1
        if response.status == 200:
            acknowledged += json.loads(payload)["accepted"]
        else:
            errors += 1
    out.put((acknowledged, errors, time.monotonic() - started))


def run_phase(
    ports: list[int], path: str, tokens: list[str], agents: list[str], batch: int, seconds: float
) -> dict:
    """Every sender posts to its collector (senders split over `ports` in turn) for `seconds`."""
    # Enough bodies for the phase even at a generous rate, bounded in memory and count.
    per_sender = max(50, min(MAX_REQUESTS // len(tokens), int(60_000 * seconds / batch / len(tokens)) + 1))
    bodies = [make_reports(agent, batch, per_sender) for agent in agents]
    out: mp.Queue = mp.Queue()
    procs = [
        mp.Process(target=sender, args=(ports[n % len(ports)], path, token, body, seconds, out))
        for n, (token, body) in enumerate(zip(tokens, bodies, strict=True))
    ]
    for proc in procs:
        proc.start()
    figures = [out.get(timeout=seconds + 120) for _ in procs]
    for proc in procs:
        proc.join()
    acknowledged = sum(f[0] for f in figures)
    errors = sum(f[1] for f in figures)
    elapsed = max(f[2] for f in figures)
    return {"rate": acknowledged / elapsed, "errors": errors, "results": acknowledged}


def median_round(rounds: list[dict]) -> dict:
    ordered = sorted(rounds, key=lambda r: r["rate"])
    middle = dict(ordered[len(ordered) // 2])
    middle["errors"] = sum(r["errors"] for r in rounds)
    return middle


def start_server(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # noqa: S603
        args,
        env={**os.environ, **env},
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop_server(process: subprocess.Popen[bytes]) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@dataclass
class Target:
    """One thing measured: a collector (one or more `serve` processes on one database) or the ceiling."""

    name: str
    path: str
    agents: list[str]
    tokens: list[str]
    ports: list[int] = field(default_factory=list)
    rounds: dict[int, list[dict]] = field(default_factory=dict)


def register_agents(location: str, prefix: str, count: int) -> tuple[list[str], list[str]]:
    """Migrate the database and create `count` agents; return (names, tokens)."""
    from statuspage.db import migrate
    from statuspage.storage import sql
    from statuspage.storage.agents import create_agent

    store = sql.open_store(location)
    try:
        migrate(store)
        names = [f"{prefix}-{i}" for i in range(count)]
        now = datetime.now(UTC)
        tokens = [create_agent(store, name, ["bench"], now)[1] for name in names]
    finally:
        sql.close(store)
    return names, tokens


def start_collectors(
    target: Target, env: dict[str, str], count: int, args: argparse.Namespace, tmp: Path
) -> list:
    """`count` collectors (`serve`: gunicorn + worker) on one database, each on its own port."""
    processes = []
    for n in range(count):
        port = free_port()
        command = [str(BIN / "upwatch-statuspage"), "serve", "--port", str(port),
                   "--workers", str(args.workers), "--threads", str(args.threads)]  # fmt: skip
        processes.append(start_server(command, env, tmp / f"{target.name.replace(' ', '_')}-{n}.log"))
        target.ports.append(port)
    return processes


def start_ceiling(args: argparse.Namespace, tmp: Path) -> tuple[Target, subprocess.Popen[bytes]]:
    """The minimal Flask + sqlite3 app under the same gunicorn settings as `serve`."""
    target = Target(
        "ceiling (Flask + sqlite3)", "/ingest", [f"bench-{i}" for i in range(args.senders)],
        ["-"] * args.senders, [free_port()],
    )  # fmt: skip
    (tmp / "ceiling_app.py").write_text(CEILING_APP)
    command = [str(BIN / "gunicorn"), "--chdir", str(tmp), "--bind", f"127.0.0.1:{target.ports[0]}",
               "--workers", str(args.workers), "--threads", str(args.threads), "--worker-class", "gthread",
               # The same server settings as `serve`, access log included: the ratio measures the app.
               "--access-logfile", "-", "ceiling_app:app"]  # fmt: skip
    return target, start_server(command, {"CEILING_DB": str(tmp / "ceiling.db")}, tmp / "ceiling.log")


def measure(targets: list[Target], batches: list[int], args: argparse.Namespace) -> None:
    """Alternate short rounds over every target and keep every round in the target.

    Alternating (rather than one target after the other) because the machine is
    shared: a burst of someone else's load should not land on one side only.
    """
    for batch in batches:
        for _round in range(args.rounds):
            for target in targets:
                figures = run_phase(
                    target.ports, target.path, target.tokens, target.agents, batch, args.seconds
                )
                target.rounds.setdefault(batch, []).append(figures)


def print_table(targets: list[Target], batches: list[int], args: argparse.Namespace, pg_line: str) -> None:
    load = os.getloadavg()
    print(
        f"ingest benchmark: {os.cpu_count()} cores, load average at the end"
        f" {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (1/5/15 min);"
        f" {args.senders} sender processes per target, median of {args.rounds}"
        f" alternating {args.seconds:.0f}s rounds; each collector is `serve` (gunicorn gthread"
        f" {args.workers} workers x {args.threads} threads, plus its background worker);"
        " 2 collectors: two `serve` on one database, the senders split between them"
    )
    print("SQLite: WAL, synchronous=NORMAL (upwatch's own settings)")
    if pg_line:
        where = "given with --database" if args.database else "throwaway server on this machine"
        print(f"{pg_line} ({where})")
    print(f"{'batch':>6}  {'target':<28} {'results/s':>10} {'of ceiling':>10} {'errors':>7}")
    for batch in batches:
        ceiling_rate = median_round(targets[-1].rounds[batch])["rate"]
        for target in targets:
            figures = median_round(target.rounds[batch])
            ratio = figures["rate"] / ceiling_rate if ceiling_rate else 0.0
            rate, errors = figures["rate"], figures["errors"]
            print(f"{batch:>6}  {target.name:<28} {rate:>10,.0f} {ratio:>10.0%} {errors:>7}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--senders", type=int, default=4, help="sender processes per target")
    parser.add_argument("--seconds", type=float, default=3.0, help="length of one round")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per batch size (median)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per collector")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--batches", default="1,100,500")
    parser.add_argument("--database", help="an existing PostgreSQL URL (default: a throwaway server)")
    parser.add_argument("--no-postgresql", action="store_true", help="SQLite and the ceiling only")
    args = parser.parse_args()
    batches = [int(b) for b in args.batches.split(",")]

    tmp = Path(tempfile.mkdtemp(prefix="upwatch-bench-"))
    config = tmp / "upwatch.toml"
    build_config(config)
    with_pg = not args.no_postgresql and pg.available(args.database)
    if not with_pg and not args.no_postgresql:
        print("PostgreSQL is not installed (scripts/test-setup.sh) and no --database given: SQLite only")
    processes: list[subprocess.Popen[bytes]] = []
    targets: list[Target] = []
    pg_line = ""
    with pg.databases(args.database) if with_pg else nullcontext(lambda: "") as new_database:
        try:
            run = uuid.uuid4().hex[:6]  # an existing --database keeps the agents of earlier runs
            locations = [("sqlite, 1 collector", str(tmp / "upwatch.db"), 1)]
            if with_pg:
                locations.append(("postgresql, 1 collector", new_database(), 1))
                locations.append(("postgresql, 2 collectors", new_database(), 2))
                pg_line = pg.settings_line(locations[1][1])
            for n, (name, location, count) in enumerate(locations):
                agents, tokens = register_agents(location, f"bench{n}-{run}", args.senders)
                target = Target(name, "/api/v1/agent/reports", agents, tokens)
                env = {"UPWATCH_CONFIG": str(config), "UPWATCH_DATABASE": location}
                processes += start_collectors(target, env, count, args, tmp)
                targets.append(target)
            ceiling, process = start_ceiling(args, tmp)
            processes.append(process)
            for target in targets:
                for port in target.ports:
                    wait_for(lambda p=port: http_get(f"http://127.0.0.1:{p}/healthz")[0] == 200, timeout_s=90)
            wait_for(lambda: http_get(f"http://127.0.0.1:{ceiling.ports[0]}/")[0] == 404, timeout_s=60)
            targets.append(ceiling)
            measure(targets, batches, args)
        finally:
            for process in processes:
                stop_server(process)
            shutil.rmtree(tmp, ignore_errors=True)  # a run leaves a few GB of databases
    print_table(targets, batches, args, pg_line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
