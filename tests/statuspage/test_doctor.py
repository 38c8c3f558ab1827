"""`doctor`: each check on real SQLite files, a real SMTP server, injected clock and disk figures."""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from shared.timeutil import to_iso
from statuspage.cli import main
from statuspage.db import connect, migrate
from statuspage.doctor import (
    Finding,
    check_smtp,
    kernel_clock_synchronized,
    render,
    run_checks,
    smtp_reachable,
)
from statuspage.settings import Settings
from statuspage.storage.agents import create_agent, record_seen
from tests.conftest import T0
from tests.helpers import free_port

Usage = namedtuple("Usage", "total used free")
PLENTY = Usage(100 * 2**30, 10 * 2**30, 90 * 2**30)


def doctor(settings: Settings, now: Any = T0, **kwargs: Any) -> list[Finding]:
    kwargs.setdefault("disk_usage", lambda _path: PLENTY)
    kwargs.setdefault("kernel_clock_synced", lambda: True)
    return run_checks(settings, now, **kwargs)


def by_check(findings: list[Finding], check: str) -> list[Finding]:
    return [f for f in findings if f.check == check]


def statuses(findings: list[Finding]) -> set[str]:
    return {f.status for f in findings}


@pytest.fixture
def seen_agent(settings: Settings) -> Callable[..., None]:
    db = connect(settings.database)
    migrate(db)

    def factory(name: str, ago: timedelta | None, skew_s: float = 0.1) -> None:
        agent, _token = create_agent(db, name, ["eu"], T0 - timedelta(days=1))
        if ago is not None:
            with db.atomic():
                record_seen(db, agent.id, T0 - ago, "0.1.0", skew_s)

    return factory


def test_a_healthy_collector_passes(settings: Settings, seen_agent: Callable[..., None]) -> None:
    seen_agent("edge-1", timedelta(seconds=20))
    findings = doctor(settings)
    assert statuses(findings) == {"ok"}, render(findings)
    assert {f.check for f in findings} == {"config", "database", "schema", "disk", "clock", "smtp", "agents"}


def test_missing_database_is_reported_not_created(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = make_settings(database=str(tmp_path / "nowhere" / "upwatch.db"))
    findings = doctor(settings)
    [database] = by_check(findings, "database")
    assert database.status == "fail" and "migrate" in database.fix
    assert not (tmp_path / "nowhere" / "upwatch.db").exists()


def test_silent_and_never_seen_agents(settings: Settings, seen_agent: Callable[..., None]) -> None:
    seen_agent("edge-1", timedelta(seconds=30))
    seen_agent("edge-2", timedelta(hours=2, minutes=5))
    seen_agent("edge-3", None)
    agents = by_check(doctor(settings), "agents")
    text = render(agents)
    assert [f.status for f in agents] == ["ok", "fail", "warn"], text
    assert "edge-2 last reported 2h 5m ago" in text and "journalctl -u upwatch-agent" in text
    assert "edge-3 has never reported" in text


def test_checks_without_agents_fail(settings: Settings) -> None:
    migrate(connect(settings.database))
    [agents] = by_check(doctor(settings), "agents")
    assert agents.status == "fail" and "agent-token create" in agents.fix


def test_clock_behind_stored_data_fails(settings: Settings, seen_agent: Callable[..., None]) -> None:
    seen_agent("edge-1", timedelta(seconds=5))
    db = connect(settings.database)
    db.execute(
        "INSERT INTO results (id, check_id, agent, started_at, received_at, latency_ms, status)"
        " VALUES ('r1', 'api-health', 'edge-1', ?, ?, 1, 'up')",
        [to_iso(T0 + timedelta(hours=1)), to_iso(T0 + timedelta(hours=1))],
    )
    clock = by_check(doctor(settings), "clock")
    assert clock[0].status == "fail" and "backwards" in clock[0].message


def test_clock_skew_of_agents(settings: Settings, seen_agent: Callable[..., None]) -> None:
    seen_agent("edge-1", timedelta(seconds=5), skew_s=95.0)
    seen_agent("edge-2", timedelta(seconds=5), skew_s=0.2)
    [one_off] = by_check(doctor(settings), "clock")
    assert one_off.status == "warn" and "edge-1 (+95 s)" in one_off.message

    seen_agent("edge-3", timedelta(seconds=5), skew_s=-120.0)
    db = connect(settings.database)
    db.execute("UPDATE agents SET clock_skew_s = -120 WHERE name = 'edge-2'")
    [all_off] = by_check(doctor(settings), "clock")
    assert all_off.status == "warn"  # one agent (edge-1) still +95: mixed signs, not this host

    db.execute("UPDATE agents SET clock_skew_s = -120")
    [here] = by_check(doctor(settings), "clock")
    assert here.status == "fail" and "this host" in here.fix


def test_unsynchronised_kernel_clock_warns(settings: Settings, seen_agent: Callable[..., None]) -> None:
    seen_agent("edge-1", timedelta(seconds=5))
    [clock] = by_check(doctor(settings, kernel_clock_synced=lambda: False), "clock")
    assert clock.status == "warn" and "chrony" in clock.fix
    assert kernel_clock_synchronized() in (True, False, None)  # the real call never raises


@pytest.mark.parametrize(
    ("usage", "status"),
    [
        (PLENTY, "ok"),
        (Usage(100 * 2**30, 95 * 2**30, 5 * 2**30), "warn"),
        (Usage(100 * 2**30, 100 * 2**30 - 50 * 2**20, 50 * 2**20), "fail"),
    ],
)
def test_disk(settings: Settings, seen_agent: Callable[..., None], usage: Usage, status: str) -> None:
    seen_agent("edge-1", timedelta(seconds=5))
    [disk] = by_check(doctor(settings, disk_usage=lambda _path: usage), "disk")
    assert disk.status == status, disk


class _Sink:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        return "250 OK"


def test_smtp_reachable_and_not(make_settings: Callable[..., Settings]) -> None:
    controller = Controller(_Sink(), hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        plain = make_settings(smtp={"host": "127.0.0.1", "port": controller.port, "security": "none"})
        [ok] = check_smtp(plain, smtp_reachable)
        # The relay speaks no TLS: STARTTLS, as delivery would use it, must fail here.
        starttls = make_settings(smtp={"host": "127.0.0.1", "port": controller.port, "security": "starttls"})
        [no_tls] = check_smtp(starttls, smtp_reachable)
    finally:
        controller.stop()
    assert ok.status == "ok" and "answers" in ok.message
    assert no_tls.status == "fail" and "smtp.security" in no_tls.fix

    down = make_settings(smtp={"host": "127.0.0.1", "port": free_port(), "security": "none"})
    [refused] = check_smtp(down, smtp_reachable)
    assert refused.status == "fail" and "smtp.host" in refused.fix
    [unset] = check_smtp(make_settings(), smtp_reachable)
    assert unset.status == "ok" and "not configured" in unset.message


def test_cli_exit_status_and_advice(
    settings: Settings,
    seen_agent: Callable[..., None],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("UPWATCH_DATABASE", str(settings.database))
    monkeypatch.delenv("UPWATCH_CONFIG", raising=False)
    seen_agent("edge-1", timedelta(seconds=0))  # T0 is in the past: silent by now
    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert "FAIL  agents" in out and "fix: on edge-1" in out and "1 problem(s)" in out

    monkeypatch.setenv("UPWATCH_CONFIG", str(Path(settings.database).parent / "missing.toml"))
    assert main(["doctor"]) == 1
    assert "FAIL  config" in capsys.readouterr().err


def test_postgres_connection_version_and_migrations(
    make_settings: Callable[..., Settings], postgres: Any
) -> None:
    url = postgres.new_database()
    settings = make_settings(database=url)
    assert isinstance(settings.database, str)
    findings = doctor(settings)
    assert [f.status for f in by_check(findings, "database")] == ["ok"]
    assert "PostgreSQL" in by_check(findings, "database")[0].message
    assert by_check(findings, "schema")[0].status == "warn"  # nothing migrated yet
    assert main_with(url, ["migrate"]) == 0
    assert by_check(doctor(settings), "schema")[0].status == "ok"

    unreachable = make_settings(database=f"postgresql://upwatch@127.0.0.1:{free_port()}/none")
    failed = by_check(doctor(unreachable), "database")
    assert failed[0].status == "fail" and "cannot connect" in failed[0].message


def main_with(database: str, argv: list[str]) -> int:
    import os

    old = os.environ.get("UPWATCH_DATABASE")
    os.environ["UPWATCH_DATABASE"] = database
    try:
        return main(argv)
    finally:
        if old is None:
            del os.environ["UPWATCH_DATABASE"]
        else:
            os.environ["UPWATCH_DATABASE"] = old


def test_commands_run_on_postgres_and_backup_points_to_pg_dump(
    postgres: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("UPWATCH_CONFIG", raising=False)
    url = postgres.new_database()
    assert main_with(url, ["backup", "/tmp/never.db"]) == 1  # noqa: S108 - refused before any file is touched
    assert "pg_dump" in capsys.readouterr().err
    assert main_with(url, ["agent-token", "create", "edge-pg", "--label", "eu"]) == 0
    assert main_with(url, ["agent-token", "list"]) == 0
    assert "edge-pg" in capsys.readouterr().out
