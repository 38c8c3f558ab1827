"""SLA maths against hand-computed tables: overlaps, maintenance inside outages, partial
days, month boundaries, time zones, leap days."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from statuspage.engine.sla import (
    IncidentTimes,
    Interval,
    burn_rate,
    calendar_period,
    longest_outage_s,
    sla_report,
    weighted_downtime_s,
)


def t(day: int, hour: int = 0, minute: int = 0, month: int = 11, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def down(a: datetime, b: datetime, status: str = "major_outage") -> Interval:
    return Interval(a, b, status)


H = 3600.0


@pytest.mark.parametrize(
    ("case", "outages", "maintenance", "expected_s"),
    [
        ("nothing", [], [], 0),
        ("one hour", [down(t(2, 10), t(2, 11))], [], H),
        ("two disjoint", [down(t(2, 10), t(2, 11)), down(t(3, 10), t(3, 10, 30))], [], 1.5 * H),
        ("overlap counted once", [down(t(2, 10), t(2, 12)), down(t(2, 11), t(2, 13))], [], 3 * H),
        ("nested", [down(t(2, 10), t(2, 14)), down(t(2, 11), t(2, 12))], [], 4 * H),
        ("partial weighs 0.3", [down(t(2, 10), t(2, 20), "partial_outage")], [], 3 * H),
        (
            "major over partial wins",
            [down(t(2, 10), t(2, 20), "partial_outage"), down(t(2, 12), t(2, 14))],
            [],
            2 * H + 0.3 * 8 * H,
        ),
        ("degraded is not downtime", [down(t(2, 10), t(2, 20), "degraded_performance")], [], 0),
        (
            "maintenance inside outage",
            [down(t(2, 10), t(2, 14))],
            [down(t(2, 11), t(2, 12), "maintenance")],
            3 * H,
        ),
        (
            "maintenance covers outage",
            [down(t(2, 11), t(2, 12))],
            [down(t(2, 10), t(2, 14), "maintenance")],
            0,
        ),
        (
            "maintenance overlaps start",
            [down(t(2, 10), t(2, 14))],
            [down(t(2, 9), t(2, 11), "maintenance")],
            3 * H,
        ),
        ("touching outages", [down(t(2, 10), t(2, 11)), down(t(2, 11), t(2, 12))], [], 2 * H),
    ],
)
def test_weighted_downtime(
    case: str, outages: list[Interval], maintenance: list[Interval], expected_s: float
) -> None:
    assert weighted_downtime_s(outages, maintenance) == pytest.approx(expected_s)


NOV = calendar_period("month", 2026, 11)  # 30 days = 2,592,000 s


@pytest.mark.parametrize(
    ("case", "outages", "maintenance", "now", "uptime"),
    [
        ("clean month", [], [], t(30, 23, 59) + timedelta(minutes=5), 100.0),
        ("43.2 min down is 99.9 %", [down(t(10, 0), t(10, 0) + timedelta(minutes=43.2))], [], t(28), None),
        ("one day of 30", [down(t(5), t(6))], [], datetime(2026, 12, 5, tzinfo=UTC), 100 * 29 / 30),
        (
            "outage across the month start",
            [down(t(31, 22, month=10), t(1, 2))],
            [],
            datetime(2026, 12, 5, tzinfo=UTC),
            100 * (1 - 2 * H / (30 * 86400)),
        ),
        (
            "outage across the month end",
            [down(t(30, 23), t(1, 5, month=12))],
            [],
            datetime(2026, 12, 5, tzinfo=UTC),
            100 * (1 - H / (30 * 86400)),
        ),
        (
            "maintenance excluded from both sides",
            [down(t(5), t(6))],
            [down(t(10), t(11), "maintenance")],
            datetime(2026, 12, 5, tzinfo=UTC),
            100 * (1 - 86400 / (29 * 86400)),
        ),
        ("partial day: month still running", [down(t(1, 6), t(1, 12))], [], t(2), 75.0),
        ("before the period starts", [], [], t(1, month=10), 100.0),
    ],
)
def test_uptime_over_november(
    case: str, outages: list[Interval], maintenance: list[Interval], now: datetime, uptime: float | None
) -> None:
    report = sla_report(NOV[0], NOV[1], now, outages, maintenance, target_percent=99.9)
    if uptime is None:  # 43.2 minutes of 30 days: exactly the 99.9 % budget, measured to day 28
        assert report.downtime_s == pytest.approx(43.2 * 60)
        full = sla_report(
            NOV[0], NOV[1], datetime(2026, 12, 5, tzinfo=UTC), outages, maintenance, target_percent=99.9
        )
        assert full.uptime_percent == pytest.approx(99.9)
        assert full.error_budget_remaining_s == pytest.approx(0, abs=1e-6)
        assert full.met
    else:
        assert report.uptime_percent == pytest.approx(uptime)


@pytest.mark.parametrize(
    ("kind", "year", "index", "tz", "start", "days"),
    [
        ("month", 2026, 11, "UTC", datetime(2026, 11, 1, tzinfo=UTC), 30),
        ("month", 2026, 12, "UTC", datetime(2026, 12, 1, tzinfo=UTC), 31),
        ("month", 2028, 2, "UTC", datetime(2028, 2, 1, tzinfo=UTC), 29),  # leap year
        ("month", 2027, 2, "UTC", datetime(2027, 2, 1, tzinfo=UTC), 28),
        ("month", 2026, 11, "Europe/Berlin", datetime(2026, 10, 31, 23, tzinfo=UTC), 30),
        ("month", 2026, 3, "Europe/Berlin", datetime(2026, 2, 28, 23, tzinfo=UTC), 31 - 1 / 24),  # DST starts
        ("month", 2026, 10, "Europe/Berlin", datetime(2026, 9, 30, 22, tzinfo=UTC), 31 + 1 / 24),  # DST ends
        ("month", 2026, 11, "America/New_York", datetime(2026, 11, 1, 4, tzinfo=UTC), 30 + 1 / 24),
        ("quarter", 2026, 4, "UTC", datetime(2026, 10, 1, tzinfo=UTC), 92),
        ("quarter", 2028, 1, "UTC", datetime(2028, 1, 1, tzinfo=UTC), 91),  # leap quarter
        ("year", 2028, 1, "UTC", datetime(2028, 1, 1, tzinfo=UTC), 366),
        ("year", 2026, 1, "Asia/Tokyo", datetime(2025, 12, 31, 15, tzinfo=UTC), 365),
    ],
)
def test_calendar_periods(kind: str, year: int, index: int, tz: str, start: datetime, days: float) -> None:
    lo, hi = calendar_period(kind, year, index, tz)  # type: ignore[arg-type]
    assert lo == start
    assert (hi - lo).total_seconds() == pytest.approx(days * 86400)


def test_leap_day_outage_counts_in_february() -> None:
    feb = calendar_period("month", 2028, 2)
    leap_day = Interval(datetime(2028, 2, 29, tzinfo=UTC), datetime(2028, 3, 1, tzinfo=UTC))
    report = sla_report(*feb, datetime(2028, 4, 1, tzinfo=UTC), [leap_day], [])
    assert report.downtime_s == 86400
    assert report.uptime_percent == pytest.approx(100 * 28 / 29)
    march = calendar_period("month", 2028, 3)
    assert sla_report(*march, datetime(2028, 4, 1, tzinfo=UTC), [leap_day], []).downtime_s == 0


def test_time_zone_moves_an_outage_between_months() -> None:
    # 2026-11-30 23:30 UTC is already December 1st in Berlin.
    outage = Interval(t(30, 23, 30), t(30, 23, 50))
    now = datetime(2027, 1, 1, tzinfo=UTC)
    assert sla_report(*calendar_period("month", 2026, 11, "UTC"), now, [outage], []).downtime_s == 20 * 60
    assert sla_report(*calendar_period("month", 2026, 11, "Europe/Berlin"), now, [outage], []).downtime_s == 0
    assert (
        sla_report(*calendar_period("month", 2026, 12, "Europe/Berlin"), now, [outage], []).downtime_s
        == 20 * 60
    )


def test_mtta_mttr_and_incident_count() -> None:
    incidents = [
        IncidentTimes(t(2, 10), t(2, 10, 5), t(2, 11)),  # ack 5 min, resolve 60 min
        IncidentTimes(t(3, 10), t(3, 10, 15), t(3, 10, 30)),  # ack 15 min, resolve 30 min
        IncidentTimes(t(4, 10), None, None),  # still open, never acknowledged
        IncidentTimes(t(31, 10, month=10), t(31, 11, month=10), t(31, 12, month=10)),  # October: not counted
    ]
    report = sla_report(*NOV, t(5), [], [], incidents)
    assert report.incidents == 3
    assert report.mtta_s == pytest.approx(10 * 60)
    assert report.mttr_s == pytest.approx(45 * 60)


def test_no_incidents_means_no_mtta() -> None:
    report = sla_report(*NOV, t(5), [], [])
    assert report.mtta_s is None and report.mttr_s is None and report.incidents == 0


@pytest.mark.parametrize(
    ("outages", "maintenance", "longest"),
    [
        ([], [], 0),
        ([down(t(2, 10), t(2, 11)), down(t(2, 10, 30), t(2, 12))], [], 2 * H),  # overlapping merge
        ([down(t(2, 10), t(2, 11)), down(t(3, 10), t(3, 13))], [], 3 * H),
        ([down(t(3, 10), t(3, 13))], [down(t(3, 11), t(3, 12), "maintenance")], 2 * H),
        ([down(t(3, 10), t(3, 20), "degraded_performance")], [], 0),
    ],
)
def test_longest_outage(outages: list[Interval], maintenance: list[Interval], longest: float) -> None:
    assert longest_outage_s(outages, maintenance) == pytest.approx(longest)


@pytest.mark.parametrize(
    ("downtime_s", "window_s", "target", "rate"),
    [
        (0, 3600, 99.9, 0.0),
        (3.6, 3600, 99.9, 1.0),  # 0.1 % of the window: exactly on budget
        (51.84, 3600, 99.9, 14.4),  # the SRE workbook's fast-burn page threshold
        (3600, 3600, 99.9, 1000.0),
        (36, 3600, 99.0, 1.0),
        (1, 3600, 100.0, float("inf")),
        (0, 0, 99.9, 0.0),
    ],
)
def test_burn_rate(downtime_s: float, window_s: float, target: float, rate: float) -> None:
    assert burn_rate(downtime_s, window_s, target) == pytest.approx(rate)


def test_error_budget_remaining_goes_negative() -> None:
    outage = down(t(2), t(2, 2))  # 2 h against a 43.2 min budget
    report = sla_report(*NOV, t(20), [outage], [], target_percent=99.9)
    assert report.error_budget_s == pytest.approx(43.2 * 60)
    assert report.error_budget_remaining_s == pytest.approx(43.2 * 60 - 2 * H)
    assert report.met is False
