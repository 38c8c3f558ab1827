"""The incident engine with real processes: a collector, three agents in three locations
(network namespaces this test creates; loopback where namespaces are not allowed) and one
HTTP target. One location cut off opens no incident; the target down opens exactly one,
within interval x failure_threshold + 2 s, with forensics from every location; it resolves
when the target returns, and the timeline shows each step."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.timeutil import utcnow
from statuspage.db import open_and_migrate
from statuspage.storage import incidents as store
from statuspage.storage.agents import create_agent
from statuspage.storage.outbox import list_outbox
from statuspage.storage.problems import open_location_problems
from tests.helpers import BIN, free_port, http_get, stop, wait_for
from tests.locations import Locations

INTERVAL_S = 1
FAILURE_THRESHOLD = 2
CONFIG = """
stale_after_intervals = 3.0

[[components]]
id = "target"
name = "Target service"
escalation_policy = "ops"

[[checks]]
id = "target-http"
component = "target"
kind = "http"
url = "http://{target}/"
interval = "{interval}s"
timeout = "{interval}s"
run_on = ["label:loc"]
failure_threshold = {failure_threshold}
success_threshold = 2

[[channels]]
id = "ops-log"
kind = "log"

[[escalation_policies]]
id = "ops"
levels = [{{ channels = ["ops-log"], after = "0s" }}]
"""


def launch(argv: list[str], env: dict[str, str], log_path: Path, cwd: Path) -> subprocess.Popen[bytes]:
    log = log_path.open("wb")
    return subprocess.Popen(  # noqa: S603
        argv, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=cwd
    )


class Site:
    """Where the processes run: namespaces when allowed, else plain loopback."""

    def __init__(self, locations: Locations | None):
        self.locations = locations
        self.collector_ip = locations.service_ip if locations else "127.0.0.1"
        self.target_ip = locations.target_ip if locations else "127.0.0.1"

    def wrap(self, index: int, argv: list[str]) -> list[str]:
        return self.locations.wrap(index, argv) if self.locations else argv


@pytest.fixture
def site() -> Iterator[Site]:
    # UPWATCH_TEST_LOOPBACK=1 forces the fallback (what runs where namespaces are not allowed).
    locations = None if os.environ.get("UPWATCH_TEST_LOOPBACK") else Locations.create(3)
    try:
        yield Site(locations)
    finally:
        if locations:
            locations.close()


def start_target(site: Site, port: int, tmp_path: Path) -> subprocess.Popen[bytes]:
    argv = [
        sys.executable,
        "-m",
        "http.server",
        str(port),
        "--bind",
        site.target_ip,
        "--directory",
        str(tmp_path),
    ]
    process = launch(argv, {}, tmp_path / "target.log", tmp_path)
    wait_for(lambda: http_get(f"http://{site.target_ip}:{port}/")[0] == 200, timeout_s=20)
    return process


def test_three_locations_one_target(site: Site, tmp_path: Path) -> None:
    target_port, collector_port = free_port(), free_port()
    config = tmp_path / "upwatch.toml"
    config.write_text(
        CONFIG.format(
            target=f"{site.target_ip}:{target_port}", interval=INTERVAL_S, failure_threshold=FAILURE_THRESHOLD
        )
    )
    db_path = tmp_path / "upwatch.db"
    db = open_and_migrate(db_path)
    tokens = [create_agent(db, f"loc-{i}", ["loc"], utcnow())[1] for i in range(3)]
    env = {"UPWATCH_CONFIG": str(config), "UPWATCH_DATABASE": str(db_path)}
    base = f"http://{site.collector_ip}:{collector_port}"
    processes: list[subprocess.Popen[bytes]] = []
    target = start_target(site, target_port, tmp_path)
    collector = launch(
        [
            str(BIN / "upwatch-statuspage"),
            "serve",
            "--host",
            site.collector_ip,
            "--port",
            str(collector_port),
        ],
        env,
        tmp_path / "collector.log",
        tmp_path,
    )
    processes.append(collector)
    agents = []
    for index, token in enumerate(tokens):
        home = tmp_path / f"loc-{index}"
        home.mkdir()
        agent_env = {
            "UPWATCH_AGENT_COLLECTOR_URL": base,
            "UPWATCH_AGENT_TOKEN": token,
            "UPWATCH_AGENT_NAME": f"loc-{index}",
            "UPWATCH_AGENT_REPORT_INTERVAL_S": "0.2",
            "UPWATCH_AGENT_HEARTBEAT_INTERVAL_S": "1",
        }
        argv = site.wrap(index, [str(BIN / "upwatch-agent"), "run"])
        agents.append(launch(argv, agent_env, home / "agent.log", home))
    processes.extend(agents)

    def states() -> dict[str, str]:
        rows = db.execute("SELECT agent, status FROM check_states WHERE check_id = 'target-http'").fetchall()
        return dict(rows)

    def component() -> str | None:
        row = db.execute("SELECT status FROM component_status WHERE component_id = 'target'").fetchone()
        return row[0] if row else None

    try:
        wait_for(lambda: states() == {"loc-0": "up", "loc-1": "up", "loc-2": "up"}, timeout_s=60)
        assert component() == "operational"

        # 1. One location cut off: a location problem (or, on loopback, a silent location), no incident.
        if site.locations:
            site.locations.cut_off(0, site.target_ip)
            wait_for(lambda: [p.agent for p in open_location_problems(db)] == ["loc-0"], timeout_s=15)
        else:
            os.kill(agents[0].pid, signal.SIGSTOP)
        time.sleep(INTERVAL_S * 3)
        assert store.list_incidents(db) == []
        assert component() == "operational"
        if site.locations:
            site.locations.reconnect(0, site.target_ip)
            wait_for(lambda: open_location_problems(db) == [], timeout_s=15)
        else:
            os.kill(agents[0].pid, signal.SIGCONT)
        wait_for(lambda: states() == {"loc-0": "up", "loc-1": "up", "loc-2": "up"}, timeout_s=15)

        # 2. The target stops: exactly one incident, in time, with forensics from every location.
        stopped_at = utcnow()
        stop(target)
        incidents = wait_for(lambda: store.list_incidents(db), timeout_s=30)
        assert len(incidents) == 1
        incident = incidents[0]
        detection_s = (incident.created_at - stopped_at).total_seconds()
        assert detection_s <= INTERVAL_S * FAILURE_THRESHOLD + 2, detection_s
        assert incident.components == {"target": "major_outage"}
        located = {r["agent"] for r in incident.forensics["results"]}
        assert located == {"loc-0", "loc-1", "loc-2"}, incident.forensics
        assert all(r["status"] == "down" for r in incident.forensics["results"] if r["agent"] != "loc-0")
        wait_for(lambda: list_outbox(db), timeout_s=10)
        assert [(r.event, r.destination) for r in list_outbox(db)][0] == ("incident.opened", "ops-log")

        # 3. The target returns: the incident resolves; the timeline shows each step.
        target = start_target(site, target_port, tmp_path)
        wait_for(lambda: store.get_incident(db, incident.id).status == "resolved", timeout_s=30)  # type: ignore[union-attr]
        assert len(store.list_incidents(db)) == 1
        assert [u.status for u in store.updates_of(db, incident.id)] == ["investigating", "resolved"]
        kinds = [e.kind for e in store.events_of(db, incident.id)]
        assert kinds[:2] == ["opened", "escalated"] and kinds[-1] == "status_changed", kinds
        assert component() == "operational"
        # The pages went through the outbox and the worker delivered them (log channel).
        wait_for(lambda: all(row.delivered_at for row in list_outbox(db)), timeout_s=20)
        assert {row.event for row in list_outbox(db)} == {"incident.opened", "incident.resolved"}
        code, _body = http_get(base + "/")
        assert code == 200
    finally:
        for process in [*agents, collector]:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGCONT)
        for process in processes:
            stop(process)
        stop(target)
        db.conn.close()
    for path in [tmp_path / "collector.log", *[tmp_path / f"loc-{i}" / "agent.log" for i in range(3)]]:
        assert "Traceback" not in path.read_text(), path.read_text()[-3000:]
