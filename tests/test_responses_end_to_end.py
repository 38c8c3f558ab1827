"""The first self-healing incident, end to end, with real processes: a collector (`serve`), a
real agent whose own TOML declares the action, a real web service and a real repair script
that records its runs. The service breaks; the incident opens; the rule asks the agent; the
script repairs the service; the check recovers and the incident resolves itself.

Then, on the same processes: an undeclared action is refused and reported; the breaker
refuses the fourth run; an order sent again after an agent restart does not run twice (and
the breaker is still open); the kill switch stops a pending order before any agent sees it.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from shared.timeutil import utcnow
from statuspage.db import connect
from statuspage.responses import service
from statuspage.storage import incidents as incident_store
from statuspage.storage import responses as store
from statuspage.storage import sql
from tests.helpers import BIN, free_port, http_json, start, stop, wait_for

SERVICE = """
import http.server, os, sys
healthy = sys.argv[2]
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        code = 200 if os.path.exists(healthy) else 503
        self.send_response(code)
        self.end_headers()
        self.wfile.write(b"ok" if code == 200 else b"broken")
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"""

REPAIR = """
import sys
runs, healthy = sys.argv[1], sys.argv[2]
with open(runs, "a") as log:
    log.write("run\\n")
open(healthy, "w").close()
print("web restarted")
"""

COLLECTOR = """
[[components]]
id = "web"
name = "Website"

[[checks]]
id = "web-http"
component = "web"
kind = "http"
url = "http://127.0.0.1:{port}/"
interval = "1s"
timeout = "1s"
run_on = ["agent:web-1"]

[responses]
enabled = true

[[responses.rules]]
id = "restart-web-on-outage"
action = "restart-web"
component = "web"
expires_after = "1m"
"""

AGENT = """
[[actions]]
id = "restart-web"
argv = ["{python}", "{repair}", "{runs}", "{healthy}"]
timeout = "20s"
max_runs = 3
window = "30m"
"""


def runs_of(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def words(db: Any, incident_id: int) -> list[str]:
    return [str(e.data["text"]) for e in incident_store.events_of(db, incident_id) if e.kind == "response"]


def manual(db: Any, incident_id: int, action: str = "restart-web") -> int:
    with sql.write(db):
        order = service.place_order(
            db,
            incident_id=incident_id,
            agent_name="web-1",
            action_id=action,
            requested_by="user:tester",
            now=utcnow(),
            expires_after=timedelta(minutes=1),
        )
    assert order is not None
    return order.id


def finished(db: Any, order_id: int) -> Any:
    order = store.get_order(db, order_id)
    return order if order is not None and order.outcome is not None else None


def test_a_web_service_restarted_by_its_own_agent(tmp_path: Path) -> None:
    port, collector_port = free_port(), free_port()
    base = f"http://127.0.0.1:{collector_port}"
    runs, healthy = tmp_path / "runs.txt", tmp_path / "healthy"
    healthy.touch()
    (tmp_path / "service.py").write_text(SERVICE)
    (tmp_path / "repair.py").write_text(REPAIR)
    config = tmp_path / "upwatch.toml"
    config.write_text(COLLECTOR.format(port=port))
    agent_config = tmp_path / "agent.toml"
    agent_config.write_text(
        AGENT.format(python=sys.executable, repair=tmp_path / "repair.py", runs=runs, healthy=healthy)
    )
    env = {"UPWATCH_CONFIG": str(config), "UPWATCH_DATABASE": str(tmp_path / "upwatch.db")}
    created = subprocess.run(
        [str(BIN / "upwatch-statuspage"), "agent-token", "create", "web-1"],
        env={**env, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    token = created.stdout.strip().splitlines()[-1]
    agent_env = {
        "UPWATCH_AGENT_COLLECTOR_URL": base,
        "UPWATCH_AGENT_TOKEN": token,
        "UPWATCH_AGENT_NAME": "web-1",
        "UPWATCH_AGENT_CONFIG": str(agent_config),
        "UPWATCH_AGENT_REPORT_INTERVAL_S": "0.3",
        "UPWATCH_AGENT_ASSIGNMENTS_REFRESH_S": "1",
        "UPWATCH_AGENT_SPOOL_PATH": str(tmp_path / "spool.db"),
    }
    target = start(
        [sys.executable, str(tmp_path / "service.py"), str(port), str(healthy)], {}, tmp_path / "web.log"
    )
    collector = start(
        [str(BIN / "upwatch-statuspage"), "serve", "--port", str(collector_port)],
        env,
        tmp_path / "collector.log",
    )
    agent = start([str(BIN / "upwatch-agent"), "run"], agent_env, tmp_path / "agent.log")
    db = connect(tmp_path / "upwatch.db")
    try:
        status = lambda: http_json(base + "/api/v2/components.json")["components"][0]["status"]  # noqa: E731
        wait_for(lambda: status() == "operational", timeout_s=60)

        # 1. The service breaks: an incident, one order, one run that repairs it, recovery.
        healthy.unlink()
        incident = wait_for(lambda: next(iter(incident_store.list_incidents(db, open_only=True)), None), 60)
        wait_for(lambda: incident_store.get_incident(db, incident.id).status == "resolved", timeout_s=60)
        assert runs_of(runs) == 1
        [order] = store.orders_of_incident(db, incident.id)
        assert order.outcome == "ran" and order.exit_code == 0 and order.stdout == "web restarted\n"
        told = words(db, incident.id)
        assert told[0] == "asked web-1 to run restart-web (rule restart-web-on-outage)"
        assert told[1].startswith("restart-web on web-1: exit 0 in ") and told[1].endswith(" s")
        assert status() == "operational"

        # 2. An action the host never declared (as a compromised collector might ask): refused, reported.
        undeclared = manual(db, incident.id, "rm-rf")
        refused = wait_for(lambda: finished(db, undeclared), 30)
        assert refused.outcome == "refused" and runs_of(runs) == 1
        assert "web-1 refused rm-rf: action 'rm-rf' is not declared" in words(db, incident.id)[-1]

        # 3. The breaker (3 runs in 30 min): runs two and three run, the fourth is refused.
        third, fourth = manual(db, incident.id), manual(db, incident.id)
        fifth = manual(db, incident.id)
        results = [wait_for(lambda o=o: finished(db, o), 30) for o in (third, fourth, fifth)]  # type: ignore[misc]
        assert [r.outcome for r in results] == ["ran", "ran", "refused"]
        assert "circuit breaker open" in (results[2].reason or "") and runs_of(runs) == 3

        # 4. The agent restarts and the first order is sent again: not run twice, its result resent.
        stop(agent)
        with sql.write(db):
            sql.run(
                db,
                "UPDATE response_orders SET status = 'pending', outcome = NULL WHERE id = :id",
                {"id": order.id},
            )
        agent = start([str(BIN / "upwatch-agent"), "run"], agent_env, tmp_path / "agent-2.log")
        again = wait_for(lambda: finished(db, order.id), 30)
        assert again.outcome == "ran" and again.exit_code == 0 and runs_of(runs) == 3
        sixth = manual(db, incident.id)
        after_restart = wait_for(lambda: finished(db, sixth), 30)
        assert after_restart.outcome == "refused"  # the breaker survived the restart

        # 5. The kill switch stops an order the agent has not picked up yet.
        stop(agent)
        pending = manual(db, incident.id)
        service.pause(db, "user:tester", "127.0.0.1", utcnow())
        agent = start([str(BIN / "upwatch-agent"), "run"], agent_env, tmp_path / "agent-3.log")
        # its first assignments came without the order (it was cancelled before they were built)
        wait_for(lambda: "action_orders=0" in (tmp_path / "agent-3.log").read_text(), 30)
        cancelled = store.get_order(db, pending)
        assert cancelled is not None and cancelled.status == "cancelled" and cancelled.outcome is None
    finally:
        db.conn.close()
        stop(agent)
        stop(collector)
        stop(target)
    for log in ("collector.log", "agent.log", "agent-2.log"):
        assert "Traceback" not in (tmp_path / log).read_text(), log
