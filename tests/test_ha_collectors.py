"""Several collectors and workers on one database, with real processes and real faults.

Two collectors (gunicorn, `serve --no-worker`) and two workers share one
database; three agents report with `collector_urls = [A, B]`. The test kills -9
collector A (the agents fail over to B) and, right after the outage opened its
incident, worker 1 (mid-delivery); both come back. At the end:

- every result id in the agents' ledgers is stored, exactly once;
- the outage opened exactly one incident, and it resolved;
- every notification of it (the page to the operators' webhook, the mail to
  the subscriber) has one outbox row and arrived, duplicates only for what was
  in flight at the kill, under the same idempotency key.

Run once (a slow multi-process case), on a throwaway PostgreSQL server
(tests/pg.py): the multi-host setup of docs/operations.md on one machine.
"""

from __future__ import annotations

import signal
import socket
import sqlite3
import subprocess
import threading
from collections import Counter
from pathlib import Path
from typing import Any

from shared.timeutil import utcnow
from statuspage.db import open_store_and_migrate
from statuspage.storage import sql
from statuspage.storage.agents import create_agent
from tests.helpers import BIN, free_port, http_get, start, stop, wait_for
from tests.pg import PostgresServer
from tests.statuspage.notify.servers import MailSink, Receiver, start_receiver, start_smtp

AGENTS = 3
CHECKS_PER_AGENT = 4

CONFIG = """
stale_after_intervals = 3.0

[page]
name = "HA test"
url = "http://status.example.com"

[[components]]
id = "api"
name = "API"
escalation_policy = "ops"

{checks}

[[channels]]
id = "ops-hook"
kind = "webhook"
url = "{hook}"

[[escalation_policies]]
id = "ops"
levels = [{{ channels = ["ops-hook"], after = "0s" }}]

[smtp]
host = "127.0.0.1"
port = {smtp_port}
security = "none"

[notify]
request_timeout_s = 5
lease_s = 3
backoff_base_s = 1
"""

CHECK = """
[[checks]]
id = "api-{n}"
component = "api"
kind = "tcp"
host = "127.0.0.1"
port = {port}
interval = "1s"
timeout = "1s"
run_on = ["label:ha"]
failure_threshold = 2
success_threshold = 2
"""


class Target:
    """A TCP service the checks probe: `up()` listens, `down()` closes the port (refused)."""

    def __init__(self) -> None:
        self.port = free_port()
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None

    def up(self) -> None:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        sock.listen(64)
        self._sock = sock
        self._thread = threading.Thread(target=self._accept, args=(sock,), daemon=True)
        self._thread.start()

    def _accept(self, sock: socket.socket) -> None:
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            conn.close()

    def down(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def read(path: Path, query: str) -> list[tuple[Any, ...]]:
    """Read an agent's spool file (SQLite, WAL: readers never block its writer)."""
    if not path.exists():
        return []
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        return conn.execute(query).fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        conn.close()


def query(location: str, text: str) -> list[tuple[Any, ...]]:
    """Read the collectors' database, whichever the engine."""
    store = sql.open_store(location)
    try:
        return sql.tuples(store, text)
    except sql.Error:
        return []
    finally:
        sql.close(store)


class Cluster:
    def __init__(self, tmp: Path, database: str, receiver: Receiver, smtp_port: int, target: Target):
        self.tmp = tmp
        self.db = database
        config = tmp / "upwatch.toml"
        checks = "".join(CHECK.format(n=n, port=target.port) for n in range(CHECKS_PER_AGENT))
        config.write_text(CONFIG.format(checks=checks, hook=receiver.url("/ok/page"), smtp_port=smtp_port))
        self.env = {"UPWATCH_CONFIG": str(config), "UPWATCH_DATABASE": str(self.db)}
        self.ports = [free_port(), free_port()]
        self.urls = [f"http://127.0.0.1:{port}" for port in self.ports]
        self.collectors: list[subprocess.Popen[bytes] | None] = [None, None]
        self.workers: list[subprocess.Popen[bytes] | None] = [None, None]
        self.agents: list[subprocess.Popen[bytes]] = []
        self.launches = 0

    def _log(self, name: str) -> Path:
        self.launches += 1
        return self.tmp / f"{name}-{self.launches}.log"

    def start_collector(self, index: int) -> None:
        argv = [str(BIN / "upwatch-statuspage"), "serve", "--no-worker", "--port", str(self.ports[index])]
        self.collectors[index] = start(argv, self.env, self._log(f"collector{index}"))
        wait_for(lambda: http_get(self.urls[index] + "/healthz")[0] == 200, timeout_s=90)

    def start_worker(self, index: int) -> None:
        argv = [str(BIN / "upwatch-statuspage"), "worker"]
        self.workers[index] = start(argv, self.env, self._log(f"worker{index}"))

    def start_agents(self, tokens: list[str]) -> None:
        for index, token in enumerate(tokens):
            env = {
                "UPWATCH_AGENT_COLLECTOR_URLS": ",".join(self.urls),
                "UPWATCH_AGENT_TOKEN": token,
                "UPWATCH_AGENT_NAME": f"ha-{index}",
                "UPWATCH_AGENT_REPORT_INTERVAL_S": "0.3",
                "UPWATCH_AGENT_HEARTBEAT_INTERVAL_S": "1",
                "UPWATCH_AGENT_BACKOFF_MAX_S": "1",
                "UPWATCH_AGENT_REQUEST_TIMEOUT_S": "3",
                "UPWATCH_AGENT_ASSIGNMENTS_REFRESH_S": "5",
                "UPWATCH_AGENT_SPOOL_PATH": str(self.spool(index)),
                "UPWATCH_AGENT_SPOOL_LEDGER": "true",
            }
            self.agents.append(start([str(BIN / "upwatch-agent"), "run"], env, self._log(f"agent{index}")))

    def spool(self, index: int) -> Path:
        return self.tmp / f"spool-{index}.db"

    def stored(self) -> int:
        rows = query(self.db, "SELECT count(*) FROM results WHERE agent LIKE 'ha-%'")
        return int(rows[0][0]) if rows else 0

    def incidents(self) -> list[tuple[Any, ...]]:
        return query(self.db, "SELECT id, status FROM incidents ORDER BY id")

    def everything(self) -> list[subprocess.Popen[bytes] | None]:
        return [*self.agents, *self.collectors, *self.workers]


def test_two_collectors_two_workers_three_agents_through_kills(
    tmp_path: Path, postgres: PostgresServer
) -> None:
    receiver = Receiver()
    hook_server = start_receiver(receiver)
    sink = MailSink()
    smtp, smtp_port = start_smtp(sink)
    target = Target()
    target.up()
    cluster = Cluster(tmp_path, postgres.new_database(), receiver, smtp_port, target)
    db = open_store_and_migrate(cluster.db)
    tokens = [create_agent(db, f"ha-{i}", ["ha"], utcnow())[1] for i in range(AGENTS)]
    sql.run(
        db,
        "INSERT INTO subscribers (email, status, unsubscribe_token, created_at)"
        " VALUES ('sub@example.com', 'confirmed', 'se_ha', '2026-11-27T00:00:00.000+00:00')",
    )
    sql.close(db)
    try:
        for index in (0, 1):
            cluster.start_collector(index)
            cluster.start_worker(index)
        cluster.start_agents(tokens)
        wait_for(lambda: cluster.stored() >= AGENTS * CHECKS_PER_AGENT * 2, timeout_s=90)

        # Collector A dies: every agent's next call fails over to B.
        assert cluster.collectors[0] is not None
        stop(cluster.collectors[0], signal.SIGKILL)
        before = cluster.stored()
        wait_for(lambda: cluster.stored() >= before + AGENTS * CHECKS_PER_AGENT * 2, timeout_s=90)

        # The outage: one incident, opened by whichever worker got there first.
        target.down()
        wait_for(lambda: cluster.incidents(), timeout_s=90, interval_s=0.1)
        # Worker 1 dies mid-run (its page or mail may be in flight); both dead processes return.
        assert cluster.workers[0] is not None
        stop(cluster.workers[0], signal.SIGKILL)
        cluster.start_worker(0)
        cluster.start_collector(0)
        wait_for(lambda: receiver.hits_for("/ok/page") and sink.to("sub@example.com"), timeout_s=90)

        target.up()
        wait_for(lambda: [s for _i, s in cluster.incidents()] == ["resolved"], timeout_s=120, interval_s=0.2)

        # Agents stop cleanly: what is still spooled is flushed.
        for agent in cluster.agents:
            assert stop(agent) == 0
        for index in range(AGENTS):
            wait_for(
                lambda i=index: read(cluster.spool(i), "SELECT count(*) FROM results") == [(0,)], timeout_s=60
            )
        wait_for(
            lambda: (
                query(
                    cluster.db, "SELECT count(*) FROM outbox WHERE delivered_at IS NULL AND failed_at IS NULL"
                )
                == [(0,)]
            ),
            timeout_s=90,
        )
    finally:
        for process in cluster.everything():
            if process is not None:
                stop(process)
        target.down()
        smtp.stop()
        receiver.release.set()
        hook_server.shutdown()
        hook_server.server_close()

    # Zero results lost, none doubled: every ledger id is stored once.
    produced: set[str] = set()
    for index in range(AGENTS):
        produced |= {row[0] for row in read(cluster.spool(index), "SELECT id FROM ledger")}
    stored = Counter(row[0] for row in query(cluster.db, "SELECT id FROM results WHERE agent LIKE 'ha-%'"))
    assert produced and produced <= set(stored)
    assert max(stored.values()) == 1

    # One incident for the one outage.
    assert len(cluster.incidents()) == 1

    # One outbox row per notification and destination (the idempotency key is unique), every one
    # delivered; what arrived twice is at most what was in flight at the kill, under the same key.
    rows = query(cluster.db, "SELECT destination_kind, destination, delivered_at, failed_at FROM outbox")
    assert all(delivered and not failed for _kind, _dest, delivered, failed in rows)
    page_rows = [row for row in rows if row[:2] == ("webhook", "ops-hook")]
    mail_rows = [row for row in rows if row[:2] == ("subscriber_email", "sub@example.com")]
    assert len(page_rows) == 2  # opened, resolved
    assert len(mail_rows) >= 2  # created ... resolved
    pages = Counter(hit.headers["webhook-id"] for hit in receiver.hits_for("/ok/page"))
    assert len(pages) == len(page_rows) and sum(pages.values()) - len(pages) <= 1
    mails = Counter(mail.message["Message-ID"] for mail in sink.to("sub@example.com"))
    assert len(mails) == len(mail_rows) and sum(mails.values()) - len(mails) <= 1
