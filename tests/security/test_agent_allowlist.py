"""Finding 1: the collector could make every agent run any program. An agent now runs an
assigned command (and reads an assigned path) only when its own TOML allows it.

A real collector (the app on a loopback HTTP server, a real SQLite file) assigns
commands and files to a real agent subprocess; the one the agent does not allow
never runs (its marker file stays absent) and its stored result says why.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from agent.allowlist import AllowConfig, AllowList
from agent.settings import ConfigError, load_config
from shared.checks import parse_check
from statuspage import create_app
from statuspage.db import connect
from statuspage.settings import load_settings
from statuspage.storage.agents import create_agent
from tests.helpers import BIN, start, stop, wait_for

TOUCH = shutil.which("touch") or "/usr/bin/touch"


def write_marker(path: Path) -> list[str]:
    # touch, not python: starting an interpreter can outlast a 1 s timeout on a loaded machine.
    return [TOUCH, str(path)]


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A collector that assigns agent `a` the issue's command, an allowed one, and two file checks."""
    markers = {name: tmp_path / f"{name}.marker" for name in ("evil", "allowed", "local")}
    backups = tmp_path / "backups"
    backups.mkdir()
    (backups / "db.dump").write_bytes(b"x" * 10)
    (tmp_path / "secret").write_text("s3cret")
    checks = [
        # The case: a central command check for agent a, which has no local config for it.
        {"id": "evil", "kind": "command", "argv": write_marker(markers["evil"]), "run_on": ["agent:a"]},
        {"id": "allowed", "kind": "command", "argv": write_marker(markers["allowed"]), "run_on": ["agent:a"]},
        {"id": "backup", "kind": "file", "path": str(backups / "db.dump"), "run_on": ["agent:a"]},
        {"id": "snoop", "kind": "file", "path": str(tmp_path / "secret"), "run_on": ["agent:a"]},
    ]
    for check in checks:
        check["interval"] = "1s"
        check["timeout"] = "1s"
    settings = load_settings(environ={}, page={"name": "T"}, checks=checks, database=str(tmp_path / "u.db"))
    app = create_app(settings)
    db = connect(settings.database)
    _agent, token = create_agent(db, "a", [], _utcnow())
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield {
        "url": f"http://127.0.0.1:{server.server_port}",
        "token": token,
        "db": db,
        "markers": markers,
        "backups": backups,
    }
    server.shutdown()
    db.conn.close()


def _utcnow() -> Any:
    from shared.timeutil import utcnow

    return utcnow()


def agent_toml(tmp_path: Path, collector: dict[str, Any]) -> Path:
    path = tmp_path / "agent.toml"
    allowed = json.dumps(write_marker(collector["markers"]["allowed"]))
    local = json.dumps(write_marker(collector["markers"]["local"]))
    path.write_text(
        f"""
[[checks]]
id = "local-job"
kind = "command"
argv = {local}
interval = "1s"
timeout = "1s"

[[allow.commands]]
check = "allowed"
argv = {allowed}

[[allow.files]]
path = "{collector["backups"]}"
"""
    )
    return path


def agent_env(tmp_path: Path, collector: dict[str, Any], config: Path) -> dict[str, str]:
    return {
        "UPWATCH_AGENT_COLLECTOR_URL": collector["url"],
        "UPWATCH_AGENT_TOKEN": collector["token"],
        "UPWATCH_AGENT_NAME": "a",
        "UPWATCH_AGENT_CONFIG": str(config),
        "UPWATCH_AGENT_REPORT_INTERVAL_S": "0.2",
        "UPWATCH_AGENT_SPOOL_PATH": str(tmp_path / "spool.db"),
        "UPWATCH_AGENT_DRILL_FILE": str(tmp_path / "drills.json"),
    }


def stored(db: Any) -> dict[str, tuple[str, str | None]]:
    rows = db.conn.execute("SELECT check_id, status, error FROM results ORDER BY started_at").fetchall()
    return {row[0]: (row[1], row[2]) for row in rows}


def test_a_real_agent_refuses_what_its_host_does_not_allow(tmp_path: Path, collector: dict[str, Any]) -> None:
    config = agent_toml(tmp_path, collector)
    env = agent_env(tmp_path, collector, config)
    agent = start([str(BIN / "upwatch-agent"), "run"], env, tmp_path / "agent.log")
    try:
        wanted = {"evil", "allowed", "backup", "snoop", "local-job"}
        wait_for(lambda: wanted <= set(stored(collector["db"])), timeout_s=30)
    finally:
        assert stop(agent) == 0, (tmp_path / "agent.log").read_text()[-2000:]
    results = stored(collector["db"])
    markers = collector["markers"]
    assert not markers["evil"].exists(), "the refused command ran"
    status, error = results["evil"]
    assert status == "down"
    assert error is not None and error.startswith("refused:")
    assert "[[allow.commands]]" in error and str(config) in error and 'check = "evil"' in error
    assert results["snoop"][0] == "down" and "[[allow.files]]" in (results["snoop"][1] or "")
    assert markers["allowed"].exists() and results["allowed"] == ("up", None)
    assert markers["local"].exists() and results["local-job"] == ("up", None)
    assert results["backup"] == ("up", None)
    log = (tmp_path / "agent.log").read_text()
    assert "refusing assigned check check=evil" in log and "Traceback" not in log


def test_upwatch_agent_check_shows_the_refusal(tmp_path: Path, collector: dict[str, Any]) -> None:
    """The upgrade path: an existing install with a central command check sees why it stopped."""
    config = tmp_path / "empty.toml"
    config.write_text("")
    env = {**os.environ, **agent_env(tmp_path, collector, config)}
    done = subprocess.run(  # noqa: S603
        [str(BIN / "upwatch-agent"), "check"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1, done.stderr
    assert not collector["markers"]["evil"].exists()
    lines = {line.split()[0]: line for line in done.stdout.splitlines()[1:] if line.strip()}
    for check_id in ("evil", "allowed", "backup", "snoop"):
        assert "refused: this agent" in lines[check_id], done.stdout


def command(argv: list[str], **fields: Any) -> Any:
    return parse_check({"id": "c", "kind": "command", "argv": argv, **fields})


@pytest.mark.parametrize(
    ("entry", "check", "allowed"),
    [
        ({"argv": ["/bin/true"]}, command(["/bin/true"]), True),
        ({"argv": ["/bin/true"], "check": "c"}, command(["/bin/true"]), True),
        ({"argv": ["/bin/true"], "check": "other"}, command(["/bin/true"]), False),
        ({"argv": ["/bin/true"]}, command(["/bin/true", "x"]), False),
        ({"argv": ["/bin/true", "x"]}, command(["/bin/true"]), False),
        ({"argv": ["/bin/true"]}, command(["/bin/true"], env={"LD_PRELOAD": "/tmp/x.so"}), False),
        ({"argv": ["/bin/true"]}, command(["/bin/true"], cwd="/tmp"), False),
        ({"argv": ["true"], "env": {"PATH": "/bin"}}, command(["true"], env={"PATH": "/bin"}), True),
        ({"argv": ["true"], "env": {"PATH": "/bin"}}, command(["true"], env={"PATH": "/tmp"}), False),
    ],
)
def test_command_entries_match_exactly(entry: dict[str, Any], check: Any, allowed: bool) -> None:
    allow = AllowList(AllowConfig.model_validate({"commands": [entry]}))
    assert allow.trusts(check) is allowed


def file_check(path: str) -> Any:
    return parse_check({"id": "f", "kind": "file", "path": path})


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/var/backups", True),
        ("/var/backups/db.dump", True),
        ("/var/backups/../../etc/shadow", False),
        ("/var/backupsX/db.dump", False),
        ("/etc/shadow", False),
    ],
)
def test_file_entries_cover_a_path_and_what_is_under_it(path: str, allowed: bool) -> None:
    allow = AllowList(AllowConfig.model_validate({"files": [{"path": "/var/backups/"}]}))
    assert allow.trusts(file_check(path)) is allowed


def test_network_probes_and_unchanged_local_checks_need_no_entry() -> None:
    local = command(["/usr/local/bin/backup-check"])
    allow = AllowList(local_checks=[local])
    assert allow.trusts(parse_check({"id": "h", "kind": "http", "url": "http://127.0.0.1:9/"}))
    assert allow.trusts(local)
    # The collector cannot reuse a local check's id to run something else.
    assert not allow.trusts(command(["/bin/sh", "-c", "id"]))


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ("[allow]\ncommands = [{ argv = [] }]", "allow.commands[0].argv"),
        ('[allow]\nfiles = [{ path = "relative" }]', "allow.files[0].path"),
        ("[allow]\nshell = true", "allow.shell"),
    ],
)
def test_bad_allow_tables_name_the_key(tmp_path: Path, toml: str, key: str) -> None:
    path = tmp_path / "agent.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError, match=key.replace("[", r"\[").replace("]", r"\]")):
        load_config({"UPWATCH_AGENT_CONFIG": str(path)})
