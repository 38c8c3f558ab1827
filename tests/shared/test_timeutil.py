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
