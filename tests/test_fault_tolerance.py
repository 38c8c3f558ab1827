"""Nothing lost between agent and collector, with real processes and real faults.

A real agent streams results of many checks on a short interval to the real
collector (gunicorn + worker, SQLite file), while other senders load it
concurrently. The test kill -9s the collector and restarts it, stops it for a
while, kill -9s the agent and restarts it. At the end every result the agent
produced (its spool's ledger, written in the same transaction as the spool
entry) is stored exactly once, counted by UUID, and no sender ever saw an error
other than "collector down".
"""

from __future__ import annotations

import http.client
import json
import signal
import sqlite3
import subprocess
import threading
from pathlib import Path
from typing import Any

from shared.ids import new_result_id
from shared.timeutil import utcnow
from tests.helpers import BIN, free_port, http_get, start, stop, wait_for

CHECKS = 24

CONFIG_HEAD = """
[page]
name = "Fault test"

[[components]]
id = "svc"
name = "Service"
"""

CHECK = """
[[checks]]
id = "port-{n}"
component = "svc"
kind = "tcp"
host = "127.0.0.1"
port = {port}
interval = "1s"
timeout = "1s"
run_on = ["label:fault"]
"""


def query(path: Path, sql: str) -> list[tuple[Any, ...]]:
    """Read another process's SQLite file (WAL: readers never block its writer)."""
    if not path.exists():
        return []
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        return conn.execute(sql).fetchall()
    except sqlite3.OperationalError:
        return []  # tables not created yet
    finally:
        conn.close()


class Scenario:
    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.db = tmp / "upwatch.db"
        self.spool = tmp / "agent-spool.db"
        config = tmp / "upwatch.toml"
        # The checks probe the collector's own port: while it is down they are "down" results,
        # still produced, still to be delivered.
        config.write_text(CONFIG_HEAD + "".join(CHECK.format(n=n, port=self.port) for n in range(CHECKS)))
        self.env = {"UPWATCH_CONFIG": str(config), "UPWATCH_DATABASE": str(self.db)}
        self.collector: subprocess.Popen[bytes] | None = None
        self.agent: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.token = self.create_token("streamer", "fault")

    def create_token(self, name: str, label: str) -> str:
        created = subprocess.run(  # noqa: S603
            [str(BIN / "upwatch-statuspage"), "agent-token", "create", name, "--label", label],
            env={**self.env, "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return created.stdout.strip().splitlines()[-1]

    def start_collector(self) -> None:
        self.starts += 1
        self.collector = start(
            [str(BIN / "upwatch-statuspage"), "serve", "--port", str(self.port)],
            self.env,
            self.tmp / f"collector-{self.starts}.log",
        )
        wait_for(lambda: http_get(self.base + "/healthz")[0] == 200, timeout_s=60)

    def start_agent(self, n: int) -> None:
        self.agent = start(
            [str(BIN / "upwatch-agent"), "run"],
            {
                "UPWATCH_AGENT_COLLECTOR_URL": self.base,
                "UPWATCH_AGENT_TOKEN": self.token,
                "UPWATCH_AGENT_NAME": "streamer",
                "UPWATCH_AGENT_REPORT_INTERVAL_S": "0.3",
                "UPWATCH_AGENT_HEARTBEAT_INTERVAL_S": "1",
                "UPWATCH_AGENT_BACKOFF_MAX_S": "1",
                "UPWATCH_AGENT_REQUEST_TIMEOUT_S": "5",
                "UPWATCH_AGENT_SPOOL_PATH": str(self.spool),
                "UPWATCH_AGENT_SPOOL_LEDGER": "true",
            },
            self.tmp / f"agent-{n}.log",
        )

    def stored(self) -> int:
        rows = query(self.db, "SELECT count(*) FROM results WHERE agent = 'streamer'")
        return int(rows[0][0]) if rows else 0

    def produced(self) -> int:
        rows = query(self.spool, "SELECT count(*) FROM ledger")
        return int(rows[0][0]) if rows else 0

    def pending(self) -> int:
        rows = query(self.spool, "SELECT count(*) FROM results")
        return int(rows[0][0]) if rows else -1

    def wait_stored(self, at_least: int, timeout_s: float = 60) -> None:
        wait_for(lambda: self.stored() >= at_least, timeout_s=timeout_s)


def blast(base_port: int, token: str, agent: str, reports: int, size: int, codes: list[int]) -> None:
    """Another agent sending big batches as fast as it can, to load the collector concurrently."""
    conn = http.client.HTTPConnection("127.0.0.1", base_port, timeout=30)
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    for _ in range(reports):
        now = utcnow().isoformat()
        results = [
            {
                "id": str(new_result_id()),
                "check_id": "load",
                "started_at": now,
                "latency_ms": 1.0,
                "status": "up",
            }
            for _ in range(size)
        ]
        body = json.dumps({"agent": agent, "agent_version": "t", "sent_at": now, "results": results})
        conn.request("POST", "/api/v1/agent/reports", body=body, headers=headers)
        response = conn.getresponse()
        payload = json.loads(response.read())
        codes.append(response.status if payload.get("accepted") == size else -response.status)
    conn.close()


def test_every_produced_result_is_stored_exactly_once_through_faults(tmp_path: Path) -> None:
    scene = Scenario(tmp_path)
    blasters = [(f"loader-{i}", scene.create_token(f"loader-{i}", "load")) for i in range(4)]
    scene.start_collector()
    scene.start_agent(1)
    try:
        # 1. Streaming, with concurrent load from other senders: no "database is locked", no 5xx.
        codes: list[int] = []
        threads = [
            threading.Thread(target=blast, args=(scene.port, token, name, 15, 100, codes))
            for name, token in blasters
        ]
        for thread in threads:
            thread.start()
        scene.wait_stored(3 * CHECKS)
        for thread in threads:
            thread.join(timeout=120)
        assert codes == [200] * 60, sorted(set(codes))

        # 2. kill -9 the collector (master, web workers and worker process), restart it at once.
        before = scene.stored()
        assert scene.collector is not None
        stop(scene.collector, signal.SIGKILL)
        scene.start_collector()
        scene.wait_stored(before + 2 * CHECKS)

        # 3. Stop it for a while: the agent keeps producing into its spool.
        stop(scene.collector)
        produced_at_stop = scene.produced()
        wait_for(lambda: scene.produced() >= produced_at_stop + 3 * CHECKS, timeout_s=60)
        assert scene.pending() >= 2 * CHECKS
        scene.start_collector()
        scene.wait_stored(produced_at_stop + 2 * CHECKS)  # the backlog is replayed

        # 4. kill -9 the agent (mid-stream: a batch may be stored but not yet acknowledged), restart it.
        assert scene.agent is not None
        stop(scene.agent, signal.SIGKILL)
        scene.start_agent(2)
        produced_after_restart = scene.produced()
        wait_for(lambda: scene.produced() >= produced_after_restart + 2 * CHECKS, timeout_s=60)

        # 5. Stop the agent cleanly: it flushes what is still spooled.
        assert stop(scene.agent) == 0
        assert scene.pending() == 0
    finally:
        if scene.agent is not None:
            stop(scene.agent)
        if scene.collector is not None:
            stop(scene.collector)

    ledger = [row[0] for row in query(scene.spool, "SELECT id FROM ledger")]
    stored = query(scene.db, "SELECT id FROM results WHERE agent = 'streamer'")
    assert len(ledger) >= 10 * CHECKS
    assert len(stored) == len({row[0] for row in stored})  # once each, by UUID
    assert sorted(row[0] for row in stored) == sorted(ledger)  # every produced result, nothing else
    assert query(scene.spool, "SELECT count(*) FROM set_aside") == [(0,)]
    assert query(scene.spool, "SELECT count(*) FROM counters WHERE value > 0") == [(0,)]  # nothing dropped
    duplicates = query(scene.db, "SELECT duplicate_results FROM agents WHERE name = 'streamer'")[0][0]
    logs = "".join(p.read_text() for p in sorted(tmp_path.glob("*.log")))
    assert "Traceback" not in logs, logs[-3000:]
    assert "database is locked" not in logs
    assert "set aside" not in logs
    print(f"produced={len(ledger)} stored={len(stored)} duplicates_ignored={duplicates}")
