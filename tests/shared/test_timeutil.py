from __future__ import annotations

from datetime import timedelta

import pytest

from shared.timeutil import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("5m", 300),
        ("1h", 3600),
        ("1h30m", 5400),
        ("1d", 86400),
        ("250ms", 0.25),
        ("1w", 604800),
        (45, 45),
        (1.5, 1.5),
        (" 2m ", 120),
    ],
)
def test_parse_duration(text: str | int | float, seconds: float) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "5", "5x", "m5", "1h-", "-5s", "five seconds", -3])
def test_parse_duration_refuses(text: str | int) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_format_duration() -> None:
    assert format_duration(timedelta(seconds=42)) == "42s"
    assert format_duration(timedelta(hours=1, minutes=5)) == "1h 5m"


# to_iso_all must give exactly to_iso's text for every shape of time an agent may send.
_TIMES = [
    "2026-12-02T05:00:00Z",  # no fraction: pydantic's text has none
    "2026-12-02T05:00:00.1Z",
    "2026-12-02T05:00:00.123456+00:00",
    "2026-12-02T05:00:00.999999Z",  # truncated to .999, never rounded up
    "2026-12-02T07:00:00.5+02:00",  # another offset: converted to UTC
    "2026-12-02T04:30:00.000001-00:30",
    "2026-03-29T01:59:59.9995+01:00",  # across a day boundary once in UTC
    "0001-01-01T00:00:00.5Z",
    "9999-12-31T23:59:59.999999Z",
]


def test_to_iso_all_gives_to_iso_text_for_every_shape() -> None:
    from datetime import UTC, datetime, timezone

    from pydantic import TypeAdapter

    from shared.timeutil import to_iso, to_iso_all

    parsed = TypeAdapter(list[datetime]).validate_json("[" + ",".join(f'"{t}"' for t in _TIMES) + "]")
    made = [
        datetime(2026, 1, 1, tzinfo=UTC),
        datetime(2026, 1, 1, 0, 0, 0, 999, tzinfo=timezone(timedelta(hours=5))),
    ]
    moments = parsed + made
    assert to_iso_all(moments) == [to_iso(moment) for moment in moments]
    assert to_iso_all([]) == []
