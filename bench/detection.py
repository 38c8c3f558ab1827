"""Detection latency: from the target failing to the incident being open, and to its first
outbox row (the page). Real processes: collector (gunicorn + worker) and three agents probing
an HTTP target every 1 s (failure_threshold 2, majority quorum). Prints p50/p95/max.

    .venv/bin/python bench/detection.py [--episodes 20]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from shared.timeutil import from_iso, utcnow  # noqa: E402
from statuspage.db import open_and_migrate  # noqa: E402
from statuspage.storage.agents import create_agent  # noqa: E402
from tests.helpers import BIN, free_port, stop, wait_for  # noqa: E402

CONFIG = """
[[components]]
id = "target"
name = "Target"
reopen_cooldown = "0s"          # every episode is its own incident
escalation_policy = "ops"

[[checks]]
id = "target-http"
component = "target"
kind = "http"
url = "http://127.0.0.1:{port}/"
interval = "1s"
timeout = "1s"
run_on = ["label:bench"]
failure_threshold = 2
success_threshold = 2

[[channels]]
id = "ops-log"
kind = "log"

[[escalation_policies]]
id = "ops"
levels = [{{ channels = ["ops-log"], after = "0s" }}]
"""


class Target:
    """An HTTP target in this process: 200 while healthy, 503 while failing (switched at once)."""

    def __init__(self) -> None:
        self.failing = False
        target = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                self.send_response(503 if target.failing else 200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--episodes", type=int, default=20)
    args = parser.parse_args()
    target = Target()
    work = Path(tempfile.mkdtemp(prefix="upwatch-bench-"))
    config = work / "upwatch.toml"
    config.write_text(CONFIG.format(port=target.port))
    db_path = work / "upwatch.db"
    db = open_and_migrate(db_path)
    tokens = [create_agent(db, f"bench-{i}", ["bench"], utcnow())[1] for i in range(3)]
    port = free_port()
    env = {**os.environ, "UPWATCH_CONFIG": str(config), "UPWATCH_DATABASE": str(db_path)}
    logs = []
    collector_log = (work / "collector.log").open("wb")
    logs.append(collector_log)
    processes = [
        subprocess.Popen(  # noqa: S603
            [str(BIN / "upwatch-statuspage"), "serve", "--port", str(port)],
            env=env,
            stdout=collector_log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    ]
    for index, token in enumerate(tokens):
        home = work / f"agent-{index}"
        home.mkdir()
        log = (home / "agent.log").open("wb")
        logs.append(log)
        agent_env = {
            **os.environ,
            "UPWATCH_AGENT_COLLECTOR_URL": f"http://127.0.0.1:{port}",
            "UPWATCH_AGENT_TOKEN": token,
            "UPWATCH_AGENT_NAME": f"bench-{index}",
            "UPWATCH_AGENT_REPORT_INTERVAL_S": "0.2",
        }
        processes.append(
            subprocess.Popen(  # noqa: S603
                [str(BIN / "upwatch-agent"), "run"],
                env=agent_env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=home,
            )
        )

    def component() -> str | None:
        row = db.execute("SELECT status FROM component_status WHERE component_id = 'target'").fetchone()
        return row[0] if row else None

    to_open: list[float] = []
    to_page: list[float] = []
    try:
        wait_for(lambda: component() == "operational", timeout_s=60, interval_s=0.05)
        last_id = 0
        for episode in range(args.episodes):
            time.sleep(random.uniform(0.5, 1.5))  # noqa: S311 - phase against the probe schedule
            failed_at = utcnow()
            target.failing = True
            row = wait_for(
                lambda last_id=last_id: db.execute(
                    "SELECT id, created_at FROM incidents WHERE id > ? ORDER BY id LIMIT 1", [last_id]
                ).fetchone(),
                timeout_s=30,
                interval_s=0.02,
            )
            incident_id, created_at = int(row[0]), from_iso(row[1])
            page = wait_for(
                lambda incident_id=incident_id: db.execute(
                    "SELECT min(created_at) FROM outbox WHERE idempotency_key LIKE ?",
                    [f"incident:{incident_id}:%"],
                ).fetchone()[0],
                timeout_s=30,
                interval_s=0.02,
            )
            to_open.append(seconds(failed_at, created_at))
            to_page.append(seconds(failed_at, from_iso(page)))
            print(f"episode {episode + 1:2d}: open {to_open[-1]:.3f} s, first outbox row {to_page[-1]:.3f} s")
            target.failing = False
            wait_for(
                lambda incident_id=incident_id: (
                    db.execute("SELECT status FROM incidents WHERE id = ?", [incident_id]).fetchone()[0]
                    == "resolved"
                ),
                timeout_s=30,
                interval_s=0.05,
            )
            last_id = incident_id
    finally:
        for process in processes:
            stop(process, signal.SIGTERM)
        for log in logs:
            log.close()
        target.server.shutdown()
        db.conn.close()
        shutil.rmtree(work, ignore_errors=True)
    print()
    print(f"episodes: {len(to_open)}, check interval 1 s, failure_threshold 2, 3 agents (majority quorum)")
    for name, values in (
        ("target failing -> incident open", to_open),
        ("target failing -> first outbox row", to_page),
    ):
        print(
            f"{name}: p50 {percentile(values, 0.5):.3f} s, p95 {percentile(values, 0.95):.3f} s,"
            f" max {max(values):.3f} s, mean {statistics.mean(values):.3f} s"
        )
    return 0


def seconds(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds()


if __name__ == "__main__":
    raise SystemExit(main())
