"""Agent drill mode: assigned drill orders and the local drill file make a check fail on purpose."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp

from agent.drill import DrillBook, clear_local_drill, default_drill_file, read_drill_file, write_local_drill
from agent.probes import run_check
from agent.probes.context import ProbeContext
from shared.checks import parse_check
from shared.schema import DrillOrder
from tests.helpers import BIN

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def test_assigned_orders_expire() -> None:
    book = DrillBook()
    book.update([DrillOrder(check_id="api", drill_id=7, until=NOW + timedelta(minutes=2))])
    assert book.active("api", NOW) == 7
    assert book.active("other", NOW) is None
    assert book.active("api", NOW + timedelta(minutes=2)) is None
    book.update([])
    assert book.active("api", NOW) is None


def test_local_file_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "drills.json"
    write_local_drill(path, "api", NOW + timedelta(minutes=5), NOW)
    write_local_drill(path, "old", NOW - timedelta(minutes=1), NOW - timedelta(minutes=2))
    write_local_drill(path, "db", NOW + timedelta(minutes=1), NOW)
    assert set(read_drill_file(path)) == {"api", "db"}  # the expired one was dropped on write
    book = DrillBook(path)
    assert book.active("api", NOW) == "local"
    assert clear_local_drill(path, "api", NOW) == 1
    assert set(read_drill_file(path)) == {"db"}
    assert clear_local_drill(path, None, NOW) == 1 and read_drill_file(path) == {}


def test_unreadable_file_means_no_drills(tmp_path: Path) -> None:
    path = tmp_path / "drills.json"
    path.write_text("{not json")
    assert DrillBook(path).active("api", NOW) is None


def test_default_file_follows_systemd_state_directory() -> None:
    assert default_drill_file({"STATE_DIRECTORY": "/var/lib/upwatch-agent"}) == Path(
        "/var/lib/upwatch-agent/drills.json"
    )
    assert default_drill_file({}) == Path("data/agent-drills.json")


async def test_run_check_fails_on_purpose_without_probing() -> None:
    check = parse_check({"id": "closed", "kind": "tcp", "host": "127.0.0.1", "port": 9})
    book = DrillBook()
    book.update([DrillOrder(check_id="closed", drill_id=3, until=datetime.now(UTC) + timedelta(minutes=1))])
    async with aiohttp.ClientSession() as session:
        result = await run_check(check, ProbeContext(session=session, drills=book))
    assert result.status == "down"
    assert result.error is not None and result.error.startswith(
        "drill: failure injected on purpose (drill #3"
    )
    assert result.detail == {"drill": 3}


def test_agent_drill_cli(tmp_path: Path) -> None:
    path = tmp_path / "drills.json"
    env = {"UPWATCH_AGENT_DRILL_FILE": str(path), "PATH": "/usr/bin:/bin"}
    started = subprocess.run(
        [str(BIN / "upwatch-agent"), "drill", "api-health", "--for", "90s"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert started.returncode == 0 and "fails on purpose until" in started.stdout
    assert list(json.loads(path.read_text())) == ["api-health"]
    # `check` honours the local drill: the check is down without being probed
    config = tmp_path / "agent.toml"
    config.write_text('[[checks]]\nid = "api-health"\nkind = "tcp"\nhost = "127.0.0.1"\nport = 9\n')
    checked = subprocess.run(
        [str(BIN / "upwatch-agent"), "check", "--json"],
        env={**env, "UPWATCH_AGENT_CONFIG": str(config)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert checked.returncode == 1 and json.loads(checked.stdout)["detail"] == {"drill": "local"}
    bad = subprocess.run(
        [str(BIN / "upwatch-agent"), "drill", "api-health", "--for", "soon"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and "--for" in bad.stderr
    stopped = subprocess.run(
        [str(BIN / "upwatch-agent"), "drill", "--stop"], env=env, capture_output=True, text=True, timeout=60
    )
    assert stopped.returncode == 0 and "ended 1" in stopped.stdout
