"""The rotation maths as a table: shift lengths, handoff times, restrictions, layers, overrides, gaps,
and DST changes in three time zones. Pure functions of time: every case names its instant."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from statuspage.oncall.rotation import (
    Layer,
    Override,
    Restriction,
    Schedule,
    ShiftLength,
    gaps,
    handoff_at,
    handoffs,
    on_call,
    overlapping,
    timeline,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
SYDNEY = ZoneInfo("Australia/Sydney")
WEEKDAYS = frozenset(range(5))


def layer(
    responders: str = "alice,bob",
    shift: str = "1w",
    handoff: str = "09:00",
    start: date = date(2026, 11, 30),  # a Monday
    restriction: Restriction | None = None,
    name: str = "base",
) -> Layer:
    units = {"h": "hours", "d": "days", "w": "weeks"}
    hour, minute = handoff.split(":")
    return Layer(
        name,
        tuple(responders.split(",")),
        ShiftLength(int(shift[:-1]), units[shift[-1]]),  # type: ignore[arg-type]
        time(int(hour), int(minute)),
        start,
        restriction,
    )


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def local(text: str, zone: ZoneInfo) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=zone)


OFFICE = Restriction(weekdays=WEEKDAYS, hours=(time(9), time(17)))
NIGHTS = Restriction(hours=(time(22), time(6)))
WEEKENDS = Restriction(weekdays=frozenset({5, 6}))


@pytest.mark.parametrize(
    ("layers", "zone", "at", "expected"),
    [
        # weekly, two people, handoff Monday 09:00 UTC
        ((layer(),), UTC, utc("2026-11-30T09:00:00"), "alice"),
        ((layer(),), UTC, utc("2026-11-30T08:59:59"), None),  # before the first handoff
        ((layer(),), UTC, utc("2026-12-07T08:59:59"), "alice"),
        ((layer(),), UTC, utc("2026-12-07T09:00:00"), "bob"),
        ((layer(),), UTC, utc("2026-12-14T09:00:00"), "alice"),  # wraps around
        ((layer("alice,bob,carol"),), UTC, utc("2026-12-14T09:00:00"), "carol"),
        # daily, hourly and two-week shifts
        ((layer(shift="1d"),), UTC, utc("2026-12-01T08:00:00"), "alice"),
        ((layer(shift="1d"),), UTC, utc("2026-12-01T09:00:00"), "bob"),
        ((layer(shift="12h"),), UTC, utc("2026-11-30T20:59:00"), "alice"),
        ((layer(shift="12h"),), UTC, utc("2026-11-30T21:00:00"), "bob"),
        ((layer(shift="8h", responders="a,b,c"),), UTC, utc("2026-12-01T01:00:00"), "c"),
        ((layer(shift="2w"),), UTC, utc("2026-12-13T12:00:00"), "alice"),
        ((layer(shift="2w"),), UTC, utc("2026-12-14T09:00:00"), "bob"),
        # a handoff time other than 09:00, in a zone
        ((layer(handoff="17:30"),), BERLIN, local("2026-12-07T17:29:00", BERLIN), "alice"),
        ((layer(handoff="17:30"),), BERLIN, local("2026-12-07T17:30:00", BERLIN), "bob"),
        # restrictions: office hours (weekdays 09-17), nights that wrap midnight, weekends
        ((layer(restriction=OFFICE),), BERLIN, local("2026-12-01T10:00:00", BERLIN), "alice"),
        ((layer(restriction=OFFICE),), BERLIN, local("2026-12-01T17:00:00", BERLIN), None),
        ((layer(restriction=OFFICE),), BERLIN, local("2026-12-05T10:00:00", BERLIN), None),  # Saturday
        ((layer(restriction=NIGHTS),), UTC, utc("2026-12-01T23:00:00"), "alice"),
        ((layer(restriction=NIGHTS),), UTC, utc("2026-12-02T05:59:00"), "alice"),
        ((layer(restriction=NIGHTS),), UTC, utc("2026-12-02T06:00:00"), None),
        ((layer(restriction=Restriction(weekdays=frozenset({4}), hours=(time(22), time(6)))),), UTC,
         utc("2026-12-05T03:00:00"), "alice"),  # Friday's night runs into Saturday morning
        ((layer(restriction=WEEKENDS),), UTC, utc("2026-12-05T03:00:00"), "alice"),
        ((layer(restriction=WEEKENDS),), UTC, utc("2026-12-04T23:59:00"), None),
        # layers: the higher one wins where it has someone; its gaps fall through
        ((layer("alice,bob"), layer("carol", restriction=OFFICE, name="day")), UTC, utc("2026-12-01T10:00:00"), "carol"),
        ((layer("alice,bob"), layer("carol", restriction=OFFICE, name="day")), UTC, utc("2026-12-01T20:00:00"), "alice"),
        ((layer("carol", restriction=OFFICE, name="day"), layer("alice,bob")), UTC, utc("2026-12-01T10:00:00"), "alice"),
        ((layer("carol", restriction=OFFICE), layer("dave", restriction=WEEKENDS)), UTC, utc("2026-12-01T20:00:00"), None),
        # DST, weekly 09:00: Europe/Berlin (last Sunday of March / October 2027)
        ((layer(start=date(2027, 3, 22)),), BERLIN, local("2027-03-29T08:59:00", BERLIN), "alice"),
        ((layer(start=date(2027, 3, 22)),), BERLIN, local("2027-03-29T09:00:00", BERLIN), "bob"),
        ((layer(start=date(2027, 10, 25)),), BERLIN, local("2027-11-01T08:59:00", BERLIN), "alice"),
        ((layer(start=date(2027, 10, 25)),), BERLIN, local("2027-11-01T09:00:00", BERLIN), "bob"),
        # America/New_York (second Sunday of March, first of November 2027)
        ((layer(start=date(2027, 3, 8)),), NEW_YORK, local("2027-03-15T08:59:00", NEW_YORK), "alice"),
        ((layer(start=date(2027, 3, 8)),), NEW_YORK, local("2027-03-15T09:00:00", NEW_YORK), "bob"),
        # Australia/Sydney (summer time ends first Sunday of April, starts first of October)
        ((layer(start=date(2027, 3, 29)),), SYDNEY, local("2027-04-05T08:59:00", SYDNEY), "alice"),
        ((layer(start=date(2027, 3, 29)),), SYDNEY, local("2027-04-05T09:00:00", SYDNEY), "bob"),
        ((layer(start=date(2027, 9, 27)),), SYDNEY, local("2027-10-04T09:00:00", SYDNEY), "bob"),
        # 12-hour shifts are absolute hours: after spring forward the 20:00 handoff is at 21:00 local
        ((layer(shift="12h", handoff="08:00", start=date(2027, 3, 13)),), NEW_YORK, local("2027-03-14T20:59:00", NEW_YORK), "alice"),
        ((layer(shift="12h", handoff="08:00", start=date(2027, 3, 13)),), NEW_YORK, local("2027-03-14T21:00:00", NEW_YORK), "bob"),
    ],
)  # fmt: skip
def test_who_is_on_call(
    layers: tuple[Layer, ...], zone: ZoneInfo, at: datetime, expected: str | None
) -> None:
    assert on_call(Schedule("s", zone, layers), [], at).responder == expected


@pytest.mark.parametrize(
    ("zone", "start", "weeks", "utc_hours"),
    [
        # Berlin: 09:00 CET = 08 UTC, 09:00 CEST = 07 UTC; local stays 09:00 on both sides
        (BERLIN, date(2027, 3, 15), 3, [8, 8, 7]),
        (BERLIN, date(2027, 10, 18), 3, [7, 7, 8]),
        # New York: 09:00 EST = 14 UTC, EDT = 13 UTC
        (NEW_YORK, date(2027, 3, 1), 3, [14, 14, 13]),
        (NEW_YORK, date(2027, 10, 25), 3, [13, 13, 14]),
        # Sydney: 09:00 AEDT = 22 UTC the day before, AEST = 23 UTC
        (SYDNEY, date(2027, 3, 22), 3, [22, 22, 23]),
        (SYDNEY, date(2027, 9, 20), 3, [23, 23, 22]),
    ],
)
def test_weekly_handoff_stays_at_local_time_across_dst(
    zone: ZoneInfo, start: date, weeks: int, utc_hours: list[int]
) -> None:
    rotation = layer(start=start)
    moments = [handoff_at(rotation, zone, index) for index in range(weeks)]
    assert [m.astimezone(zone).strftime("%a %H:%M") for m in moments] == ["Mon 09:00"] * weeks
    assert [m.hour for m in moments] == utc_hours
    spans = timeline(Schedule("s", zone, (rotation,)), [], moments[0], moments[-1] + timedelta(minutes=1))
    assert [s.start for s in handoffs(spans)] == moments[1:]


@pytest.mark.parametrize(
    ("handoff", "expected_local"),
    [
        ("02:30", "03:30"),  # does not exist on 2027-03-14 in New York: same offset as before the change
        ("01:30", "01:30"),  # exists twice on 2027-11-07: the first one
    ],
)
def test_daily_handoff_at_a_missing_or_repeated_local_time(handoff: str, expected_local: str) -> None:
    start = date(2027, 3, 13) if handoff == "02:30" else date(2027, 11, 6)
    moment = handoff_at(layer(shift="1d", handoff=handoff, start=start), NEW_YORK, 1)
    assert moment.astimezone(NEW_YORK).strftime("%H:%M") == expected_local


OVERRIDE_WEEK = (utc("2026-12-02T00:00:00"), utc("2026-12-03T00:00:00"))


@pytest.mark.parametrize(
    ("override", "layers", "at", "expected"),
    [
        # carol takes a day from alice
        (Override(1, *OVERRIDE_WEEK, "carol", "alice"), (layer(),), utc("2026-12-02T12:00:00"), ("carol", 1)),
        (Override(1, *OVERRIDE_WEEK, "carol", "alice"), (layer(),), utc("2026-12-03T00:00:00"), ("alice", None)),
        # an override replacing bob does nothing while alice is on call
        (Override(1, *OVERRIDE_WEEK, "carol", "bob"), (layer(),), utc("2026-12-02T12:00:00"), ("alice", None)),
        # no `replaces`: takes over from whoever is on call, and covers a gap
        (Override(1, *OVERRIDE_WEEK, "carol"), (layer(),), utc("2026-12-02T12:00:00"), ("carol", 1)),
        (Override(1, *OVERRIDE_WEEK, "carol"), (layer(restriction=OFFICE),), utc("2026-12-02T20:00:00"), ("carol", 1)),
        (Override(1, *OVERRIDE_WEEK, "carol", "alice"), (layer(restriction=OFFICE),), utc("2026-12-02T20:00:00"), (None, None)),
    ],
)  # fmt: skip
def test_overrides(
    override: Override, layers: tuple[Layer, ...], at: datetime, expected: tuple[str | None, int | None]
) -> None:
    found = on_call(Schedule("s", UTC, layers), [override], at)
    assert (found.responder, found.override_id) == expected


def test_timeline_with_layers_overrides_and_gaps() -> None:
    schedule = Schedule("s", UTC, (layer(restriction=OFFICE),))
    start, end = utc("2026-12-01T00:00:00"), utc("2026-12-03T00:00:00")
    override = Override(7, utc("2026-12-01T20:00:00"), utc("2026-12-01T22:00:00"), "carol")
    spans = timeline(schedule, [override], start, end)
    assert [(s.start.hour, s.end.hour, s.responder) for s in spans] == [
        (0, 9, None),
        (9, 17, "alice"),
        (17, 20, None),
        (20, 22, "carol"),
        (22, 9, None),
        (9, 17, "alice"),
        (17, 0, None),
    ]
    assert spans[0].start == start and spans[-1].end == end
    assert [g.duration for g in gaps(spans)] == [timedelta(hours=h) for h in (9, 3, 11, 7)]
    assert [s.responder for s in handoffs(spans)] == ["alice", "carol", "alice"]


def test_a_full_rotation_has_no_gaps() -> None:
    schedule = Schedule("s", BERLIN, (layer(start=date(2026, 1, 5)),))
    spans = timeline(schedule, [], utc("2027-03-01T00:00:00"), utc("2027-04-12T00:00:00"))
    assert gaps(spans) == []
    assert sum((s.duration for s in spans), timedelta()) == timedelta(days=42)


@pytest.mark.parametrize(
    ("existing", "candidate", "clash"),
    [
        ((utc("2026-12-01T00:00:00"), utc("2026-12-02T00:00:00")), (utc("2026-12-01T12:00:00"), utc("2026-12-03T00:00:00")), True),
        ((utc("2026-12-01T00:00:00"), utc("2026-12-02T00:00:00")), (utc("2026-12-02T00:00:00"), utc("2026-12-03T00:00:00")), False),
        ((utc("2026-12-01T00:00:00"), utc("2026-12-05T00:00:00")), (utc("2026-12-02T00:00:00"), utc("2026-12-03T00:00:00")), True),
        ((utc("2026-12-02T00:00:00"), utc("2026-12-03T00:00:00")), (utc("2026-12-01T00:00:00"), utc("2026-12-02T00:00:00")), False),
    ],
)  # fmt: skip
def test_overlapping_overrides(
    existing: tuple[datetime, datetime], candidate: tuple[datetime, datetime], clash: bool
) -> None:
    found = overlapping([Override(1, *existing, "bob")], Override(0, *candidate, "carol"))
    assert (found is not None) == clash
