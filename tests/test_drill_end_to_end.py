"""A drill run end to end with real processes: collector (gunicorn + worker), a real agent
and target; `upwatch-statuspage drill` makes the agent fail the checks, a drill incident opens
and pages, a person acknowledges, the report has every timing, nothing is public."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from shared.timeutil import utcnow
from statuspage import incidents as service
from statuspage.db import connect
from statuspage.storage import incidents as store
from tests.helpers import BIN, free_port, http_get, http_json, start, stop, wait_for

CONFIG = """
default_escalation_policy = "ops"

[page]
name = "Drill Status"

[[components]]
id = "target"
name = "Target service"

[[checks]]
id = "target-http"
component = "target"
kind = "http"
url = "http://127.0.0.1:{target_port}/"
interval = "1s"
timeout = "1s"
run_on = ["agent:probe-1"]

[[channels]]
id = "ops-log"
kind = "log"

[[escalation_policies]]
id = "ops"
levels = [{{ channels = ["ops-log"], after = "0s" }}]
"""


def test_drill_through_the_real_pipeline(tmp_path: Path) -> None:
    target_port, collector_port = free_port(), free_port()
    base = f"http://127.0.0.1:{collector_port}"
    config = tmp_path / "upwatch.toml"
    config.write_text(CONFIG.format(target_port=target_port))
    env = {"UPWATCH_CONFIG": str(config), "UPWATCH_DATABASE": str(tmp_path / "upwatch.db")}
    created = subprocess.run(
        [str(BIN / "upwatch-statuspage"), "agent-token", "create", "probe-1"],
        env={**env, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    token = created.stdout.strip().splitlines()[-1]
    target = start(
        [
            sys.executable,
            "-m",
            "http.server",
            str(target_port),
            "--bind",
            "127.0.0.1",
            "--directory",
            str(tmp_path),
        ],
        {},
        tmp_path / "target.log",
    )
    collector = start(
        [str(BIN / "upwatch-statuspage"), "serve", "--port", str(collector_port)],
        env,
        tmp_path / "collector.log",
    )
    agent = start(
        [str(BIN / "upwatch-agent"), "run"],
        {
            "UPWATCH_AGENT_COLLECTOR_URL": base,
            "UPWATCH_AGENT_TOKEN": token,
            "UPWATCH_AGENT_NAME": "probe-1",
            "UPWATCH_AGENT_REPORT_INTERVAL_S": "0.3",
            "UPWATCH_AGENT_ASSIGNMENTS_REFRESH_S": "1",
            "UPWATCH_AGENT_DRILL_FILE": str(tmp_path / "agent-drills.json"),
        },
        tmp_path / "agent.log",
    )
    drill: subprocess.Popen[bytes] | None = None
    try:
        wait_for(
            lambda: http_json(base + "/api/v2/components.json")["components"][0]["status"] == "operational",
            timeout_s=60,
        )
        drill = start(
            [
                str(BIN / "upwatch-statuspage"),
                "drill",
                "--component",
                "target",
                "--duration",
                "20s",
                "--wait",
                "90s",
                "--actor",
                "tester",
            ],
            env,
            tmp_path / "drill.log",
        )
        db = connect(tmp_path / "upwatch.db")
        incident = wait_for(lambda: next(iter(store.list_incidents(db, open_only=True)), None), timeout_s=60)
        assert incident.drill and not incident.public
        wait_for(
            lambda: (
                db.execute("SELECT count(*) FROM outbox WHERE delivered_at IS NOT NULL").fetchone()[0] > 0
            ),
            timeout_s=30,
        )
        time.sleep(0.5)
        service.acknowledge(db, incident.id, "on-call", utcnow())
        assert drill.wait(timeout=60) == 0, (tmp_path / "drill.log").read_text()
        output = (tmp_path / "drill.log").read_text()
        report = json.loads(output[output.index("{") :])
        assert report["incident_id"] == incident.id and report["outcome"] == "acknowledged"
        for key in ("propagation_s", "detection_s", "notification_s", "acknowledgement_s"):
            assert isinstance(report[key], float) and report[key] >= 0, (key, report)
        assert "incident #" in output and "first page sent" in output and "acknowledged by on-call" in output
        # never public
        assert http_json(base + "/api/v2/incidents.json")["incidents"] == []
        assert "DRILL" not in http_get(base + "/")[1].decode()
        # the drill ends: the agent stops failing and the incident resolves by itself
        wait_for(lambda: store.get_incident(db, incident.id).status == "resolved", timeout_s=60)
        listed = subprocess.run(
            [str(BIN / "upwatch-statuspage"), "drill", "--list"],
            env={**env, "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        assert "completed\tacknowledged" in listed.stdout
        db.conn.close()
    finally:
        if drill is not None:
            stop(drill)
        stop(agent)
        stop(collector)
        stop(target)
    assert "Traceback" not in (tmp_path / "collector.log").read_text()
