"""SLA reports from stored incidents and maintenance: the CLI's CSV and JSON match hand-computed figures."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from statuspage.db import open_and_migrate
from statuspage.reports import parse_period, report_rows
from statuspage.settings import load_settings
from tests.helpers import BIN

CONFIG = """
[sla]
tz = "UTC"

[[components]]
id = "api"
name = "API"
sla_target = 99.9

[[components]]
id = "web"
name = "Web"
"""


def iso(text: str) -> str:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).isoformat(timespec="milliseconds")


def add_incident(
    db: Any,
    component: str,
    opened: str,
    resolved: str | None,
    acked: str | None = None,
    status: str = "major_outage",
    drill: int = 0,
    kind: str = "service",
) -> None:
    cursor = db.execute(
        "INSERT INTO incidents (title, status, impact, kind, drill, created_at, updated_at, acknowledged_at, resolved_at)"
        " VALUES ('t', ?, 'major', ?, ?, ?, ?, ?, ?)",
        [
            "resolved" if resolved else "investigating",
            kind,
            drill,
            iso(opened),
            iso(opened),
            iso(acked) if acked else None,
            iso(resolved) if resolved else None,
        ],
    )
    db.execute("INSERT INTO incident_components VALUES (?, ?, ?)", [cursor.lastrowid, component, status])


def add_maintenance(db: Any, component: str, start: str, end: str) -> None:
    cursor = db.execute(
        "INSERT INTO maintenances (title, status, scheduled_for, scheduled_until, started_at, completed_at, created_at, updated_at)"
        " VALUES ('m', 'completed', ?, ?, ?, ?, ?, ?)",
        [iso(start), iso(end), iso(start), iso(end), iso(start), iso(end)],
    )
    db.execute("INSERT INTO maintenance_components VALUES (?, ?)", [cursor.lastrowid, component])


@pytest.fixture
def seeded(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    config = tmp_path / "upwatch.toml"
    config.write_text(CONFIG)
    env = {
        "UPWATCH_CONFIG": str(config),
        "UPWATCH_DATABASE": str(tmp_path / "db.sqlite"),
        "PATH": "/usr/bin:/bin",
    }
    db = open_and_migrate(tmp_path / "db.sqlite")
    with db.atomic():
        # November 2026 (30 days = 43,200 min; the 99.9 % budget is 43.2 min).
        add_incident(
            db, "api", "2026-11-02T10:00:00", "2026-11-02T11:00:00", acked="2026-11-02T10:06:00"
        )  # 60 min
        add_incident(
            db, "api", "2026-11-02T10:30:00", "2026-11-02T11:30:00", acked="2026-11-02T10:32:00"
        )  # overlaps: +30 min
        add_incident(
            db, "api", "2026-11-10T00:00:00", "2026-11-10T10:00:00", status="partial_outage"
        )  # 600 min × 0.3
        add_incident(db, "api", "2026-11-15T00:00:00", "2026-11-15T05:00:00", drill=1)  # a drill: ignored
        add_incident(db, "api", "2026-11-16T00:00:00", "2026-11-16T05:00:00", kind="agent_offline")  # ignored
        add_maintenance(db, "api", "2026-11-02T11:00:00", "2026-11-02T11:30:00")  # inside the second incident
        add_incident(db, "api", "2026-10-31T23:00:00", "2026-11-01T01:00:00")  # 60 min in November
    db.conn.close()
    return tmp_path, env


def test_report_rows_match_hand_computation(seeded: tuple[Path, dict[str, str]]) -> None:
    tmp_path, env = seeded
    settings = load_settings(environ={}, config=env["UPWATCH_CONFIG"], database=env["UPWATCH_DATABASE"])
    db = open_and_migrate(tmp_path / "db.sqlite")
    rows = report_rows(db, settings, parse_period("2026-11"), datetime(2026, 12, 2, tzinfo=UTC))
    api = rows[0]
    # downtime: 10:00-11:00 (60) + 11:00-11:30 is maintenance (0) + 180 partial min + 60 at the month start
    downtime_min = 60 + 0.3 * 600 + 60
    measured_min = 30 * 24 * 60 - 30
    assert api["downtime_s"] == pytest.approx(downtime_min * 60, abs=0.1)
    assert api["maintenance_s"] == 30 * 60
    assert api["uptime_percent"] == pytest.approx(100 * (1 - downtime_min / measured_min), abs=1e-4)
    assert api["incidents"] == 3  # the October one opened before the period; drill and agent-offline excluded
    assert api["mtta_s"] == pytest.approx((6 + 2) / 2 * 60)
    assert api["mttr_s"] == pytest.approx((60 + 60 + 600) / 3 * 60)
    assert api["longest_outage_s"] == pytest.approx(600 * 60)
    assert api["met"] is False and api["error_budget_remaining_s"] < 0
    assert rows[1]["component"] == "web" and rows[1]["uptime_percent"] == 100.0 and rows[1]["met"] is None


def test_report_cli_csv_and_json(seeded: tuple[Path, dict[str, str]]) -> None:
    _tmp, env = seeded
    as_csv = subprocess.run(
        [str(BIN / "upwatch-statuspage"), "report", "--period", "2026-11", "--format", "csv"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert [r["component"] for r in rows] == ["api", "web"]
    assert rows[0]["incidents"] == "3" and rows[1]["mtta_s"] == ""
    as_json = subprocess.run(
        [
            str(BIN / "upwatch-statuspage"),
            "report",
            "--period",
            "2026-Q4",
            "--component",
            "api",
            "--format",
            "json",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    report = json.loads(as_json.stdout)["reports"][0]
    assert report["period"] == "2026-Q4" and report["incidents"] == 4


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--period", "2026-13"], "--period"),
        (["--period", "26-11"], "--period"),
        (["--period", "2026-11", "--component", "nope"], "unknown component"),
    ],
)
def test_report_cli_bad_arguments(seeded: tuple[Path, dict[str, str]], args: list[str], message: str) -> None:
    _tmp, env = seeded
    completed = subprocess.run(
        [str(BIN / "upwatch-statuspage"), "report", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 2 and message in completed.stderr and "Traceback" not in completed.stderr


@pytest.mark.parametrize(
    ("text", "kind", "index"),
    [("2026-11", "month", 11), ("2026-01", "month", 1), ("2026-Q1", "quarter", 1), ("2028", "year", 1)],
)
def test_parse_period(text: str, kind: str, index: int) -> None:
    period = parse_period(text)
    assert (period.kind, period.index) == (kind, index)


def test_unknown_time_zone_is_a_config_error(tmp_path: Path) -> None:
    from statuspage.settings import ConfigError

    path = tmp_path / "c.toml"
    path.write_text('[sla]\ntz = "Mars/Olympus"\n')
    with pytest.raises(ConfigError, match=r"sla\.tz"):
        load_settings(environ={}, config=str(path))


def test_problem_impact_sums_linked_incidents(seeded: tuple[Path, dict[str, str]]) -> None:
    from statuspage import incidents as service
    from statuspage.reports import problem_impact

    tmp_path, env = seeded
    db = open_and_migrate(tmp_path / "db.sqlite")
    now = datetime(2026, 12, 2, tzinfo=UTC)
    problem_id = service.create_problem(db, "Flaky load balancer", "", "alice", now)
    for incident_id in (1, 2, 3):  # 10:00-11:00 and 10:30-11:30 major, plus 10 h partial
        service.link_problem(db, incident_id, problem_id, "alice", now)
    impact = problem_impact(db, problem_id, now)
    assert impact is not None and impact.incident_ids == [1, 2, 3]
    assert impact.total_duration_s == (90 + 600) * 60  # overlap counted once
    assert impact.downtime_s_by_component == {"api": pytest.approx((90 + 0.3 * 600) * 60)}
    assert impact.impact_counts == {"major": 3} and impact.open_incidents == 0
    assert problem_impact(db, 999, now) is None
    shown = subprocess.run(
        [str(BIN / "upwatch-statuspage"), "problem", "show", str(problem_id)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "Incidents: #1, #2, #3" in shown.stdout and "Total duration: 11h 30m" in shown.stdout
    listed = subprocess.run(
        [str(BIN / "upwatch-statuspage"), "problem", "list"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "3 incident(s)" in listed.stdout


def test_measured_status_history_counts_with_incidents(seeded: tuple[Path, dict[str, str]]) -> None:
    """A measured outage no incident covers counts; one an incident covers is not counted twice."""
    tmp_path, env = seeded
    settings = load_settings(environ={}, config=env["UPWATCH_CONFIG"], database=env["UPWATCH_DATABASE"])
    db = open_and_migrate(tmp_path / "db.sqlite")
    with db.atomic():
        db.execute(
            "INSERT INTO component_status_history (component_id, status, started_at, ended_at) VALUES ('web', 'major_outage', ?, ?)",
            [iso("2026-11-20T00:00:00"), iso("2026-11-20T00:30:00")],
        )
        db.execute(
            "INSERT INTO component_status_history (component_id, status, started_at, ended_at) VALUES ('api', 'major_outage', ?, ?)",
            [iso("2026-11-02T10:00:00"), iso("2026-11-02T10:20:00")],
        )
    rows = {
        r["component"]: r
        for r in report_rows(db, settings, parse_period("2026-11"), datetime(2026, 12, 2, tzinfo=UTC))
    }
    assert rows["web"]["downtime_s"] == 30 * 60 and rows["web"]["incidents"] == 0
    assert rows["api"]["downtime_s"] == pytest.approx(
        (60 + 0.3 * 600 + 60) * 60, abs=0.1
    )  # inside an incident already
