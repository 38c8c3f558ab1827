"""Ingest throughput: sustained results/s into a running collector vs a minimal Flask + sqlite3 ceiling.

Starts, on loopback, (1) the real collector (`upwatch-statuspage serve`: gunicorn
gthread, worker process, a real SQLite file on disk) and (2) a minimal Flask
app under the same gunicorn settings whose endpoint only parses the JSON and
inserts the rows (executemany, one transaction) into an identical table. Then,
for batches of 1, 100 and 500 results, concurrent sender processes post
pre-built reports (every result a fresh UUID) over keep-alive connections for
a fixed time, and the acknowledged results per second are printed for both,
with the ratio. Bounded: each phase stops after PHASE_S seconds or MAX_REQUESTS.

    .venv/bin/python bench/ingest.py [--senders 4] [--seconds 3] [--rounds 3] [--workers 2] [--threads 4]

Prints figures; it is not a test.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

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


def run_phase(port: int, path: str, tokens: list[str], agents: list[str], batch: int, seconds: float) -> dict:
    # Enough bodies for the phase even at a generous rate, bounded in memory and count.
    per_sender = max(50, min(MAX_REQUESTS // len(tokens), int(60_000 * seconds / batch / len(tokens)) + 1))
    bodies = [make_reports(agent, batch, per_sender) for agent in agents]
    out: mp.Queue = mp.Queue()
    procs = [
        mp.Process(target=sender, args=(port, path, token, body, seconds, out))
        for token, body in zip(tokens, bodies, strict=True)
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--senders", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=3.0, help="length of one round")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per batch size (median)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--batches", default="1,100,500")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="upwatch-bench-"))
    config = tmp / "upwatch.toml"
    build_config(config)
    env = {"UPWATCH_CONFIG": str(config), "UPWATCH_DATABASE": str(tmp / "upwatch.db")}
    agents = [f"bench-{i}" for i in range(args.senders)]
    tokens = []
    for agent in agents:
        created = subprocess.run(  # noqa: S603
            [str(BIN / "upwatch-statuspage"), "agent-token", "create", agent],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            check=True,
        )
        tokens.append(created.stdout.strip().splitlines()[-1])

    collector_port, ceiling_port = free_port(), free_port()
    collector = start_server(
        [
            str(BIN / "upwatch-statuspage"),
            "serve",
            "--port",
            str(collector_port),
            "--workers",
            str(args.workers),
            "--threads",
            str(args.threads),
        ],
        env,
        tmp / "collector.log",
    )
    (tmp / "ceiling_app.py").write_text(CEILING_APP)
    ceiling = start_server(
        [
            str(BIN / "gunicorn"),
            "--chdir",
            str(tmp),
            "--bind",
            f"127.0.0.1:{ceiling_port}",
            "--workers",
            str(args.workers),
            "--threads",
            str(args.threads),
            "--worker-class",
            "gthread",
            # The same server settings as `serve`, access log included: the ratio measures the app.
            "--access-logfile",
            "-",
            "ceiling_app:app",
        ],
        {"CEILING_DB": str(tmp / "ceiling.db")},
        tmp / "ceiling.log",
    )
    rows = []
    try:
        wait_for(lambda: http_get(f"http://127.0.0.1:{collector_port}/healthz")[0] == 200, timeout_s=60)
        wait_for(lambda: http_get(f"http://127.0.0.1:{ceiling_port}/")[0] == 404, timeout_s=60)
        for batch in [int(b) for b in args.batches.split(",")]:
            # Alternate short rounds and keep the median of each: the machine is shared, and a
            # burst of someone else's load should not land on one side only.
            ours_rounds, ceil_rounds = [], []
            for _round in range(args.rounds):
                ours_rounds.append(
                    run_phase(collector_port, "/api/v1/agent/reports", tokens, agents, batch, args.seconds)
                )
                ceil_rounds.append(
                    run_phase(ceiling_port, "/ingest", ["-"] * len(agents), agents, batch, args.seconds)
                )
            rows.append((batch, median_round(ours_rounds), median_round(ceil_rounds)))
    finally:
        stop_server(collector)
        stop_server(ceiling)

    load = os.getloadavg()
    print(
        f"ingest benchmark: {os.cpu_count()} cores, 1-min load average at the end {load[0]:.2f} "
        f"(other work on the machine); {args.senders} sender processes, median of {args.rounds} "
        f"alternating {args.seconds:.0f}s rounds, "
        f"gunicorn gthread {args.workers} workers x {args.threads} threads"
    )
    print(f"{'batch':>6} {'collector results/s':>20} {'ceiling results/s':>18} {'ratio':>7} {'errors':>7}")
    for batch, ours, ceil in rows:
        ratio = ours["rate"] / ceil["rate"] if ceil["rate"] else 0.0
        errors = f"{ours['errors']}/{ceil['errors']}"
        print(f"{batch:>6} {ours['rate']:>20,.0f} {ceil['rate']:>18,.0f} {ratio:>7.0%} {errors:>7}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
