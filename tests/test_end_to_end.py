"""The walking skeleton with real processes: collector (gunicorn + worker), a token made by
the CLI, a real agent probing a real local HTTP target; stop the target, see the outage."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import BIN, free_port, http_get, start, stop, wait_for

CONFIG = """
[page]
name = "E2E Status"

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
run_on = ["label:e2e"]
"""


def status_of(base: str, component: str) -> str | None:
    _code, body = http_get(base + "/")
    match = re.search(rf'data-component="{component}" data-status="([a-z_]+)"', body.decode())
    return match.group(1) if match else None


@pytest.fixture
def target_port(tmp_path: Path):
    port = free_port()
    process = start(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(tmp_path)],
        {},
        tmp_path / "target.log",
    )
    wait_for(lambda: http_get(f"http://127.0.0.1:{port}/")[0] == 200)
    yield port, process
    stop(process)


def test_agent_to_status_page(tmp_path: Path, target_port: tuple[int, subprocess.Popen[bytes]]) -> None:
    port, target = target_port
    config = tmp_path / "upwatch.toml"
    config.write_text(CONFIG.format(target_port=port))
    env = {"UPWATCH_CONFIG": str(config), "UPWATCH_DATABASE": str(tmp_path / "upwatch.db")}

    created = subprocess.run(  # noqa: S603
        [str(BIN / "upwatch-statuspage"), "agent-token", "create", "probe-1", "--label", "e2e"],
        env={**env, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    token = created.stdout.strip().splitlines()[-1]
    assert token.startswith("uwa_")
    assert token not in (tmp_path / "upwatch.db").read_bytes().decode("latin-1")  # only the hash is stored

    collector_port = free_port()
    base = f"http://127.0.0.1:{collector_port}"
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
            "UPWATCH_AGENT_LABELS": "e2e",  # declared by the agent too: narrows, never adds
            "UPWATCH_AGENT_REPORT_INTERVAL_S": "0.5",
            "UPWATCH_AGENT_SPOOL_PATH": str(tmp_path / "spool.db"),
        },
        tmp_path / "agent.log",
    )
    try:
        wait_for(lambda: status_of(base, "target") == "operational", timeout_s=45)
        stop(target)
        wait_for(lambda: status_of(base, "target") == "major_outage", timeout_s=30)
        _code, body = http_get(base + "/")
        assert "Major System Outage" in body.decode()
    finally:
        assert stop(agent) == 0, (tmp_path / "agent.log").read_text()[-2000:]
        stop(collector)
    agent_log = (tmp_path / "agent.log").read_text()
    assert "Traceback" not in agent_log, agent_log[-2000:]
    assert "Traceback" not in (tmp_path / "collector.log").read_text()
