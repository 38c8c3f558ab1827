"""`upwatch-agent check` runs every local check once, prints a table, exits 1 on failure."""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path

from tests.helpers import BIN, free_port


def run_check(tmp_path: Path, toml: str, *args: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "agent.toml"
    path.write_text(toml)
    return subprocess.run(  # noqa: S603
        [str(BIN / "upwatch-agent"), "check", *args],
        env={"UPWATCH_AGENT_CONFIG": str(path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_check_table_all_up(tmp_path: Path) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        completed = run_check(
            tmp_path, f'[[checks]]\nid = "open-port"\nkind = "tcp"\nhost = "127.0.0.1"\nport = {port}\n'
        )
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.splitlines()
    assert lines[0].split() == ["CHECK", "STATUS", "LATENCY", "ERROR"]
    assert lines[1].split()[:2] == ["open-port", "up"]


def test_check_fails_with_exit_1_and_json(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    completed = run_check(
        tmp_path,
        f'[[checks]]\nid = "closed-port"\nkind = "tcp"\nhost = "127.0.0.1"\nport = {port}\n',
        "--json",
    )
    assert completed.returncode == 1
    result = json.loads(completed.stdout.splitlines()[0])
    assert result["check_id"] == "closed-port" and result["status"] == "down"
    assert "connection refused" in result["error"]


def test_check_with_bad_config_exits_2(tmp_path: Path) -> None:
    completed = run_check(tmp_path, '[[checks]]\nid = "x"\nkind = "tcp"\n')
    assert completed.returncode == 2
    assert "checks[0].host" in completed.stderr and "Traceback" not in completed.stderr
