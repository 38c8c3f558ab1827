"""Time helpers: every stored and transmitted time is an aware UTC datetime."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

Clock = Callable[[], datetime]

_DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def utcnow() -> datetime:
    """Return the current time as an aware UTC datetime (the default clock)."""
    return datetime.now(UTC)


def parse_duration(text: str | int | float) -> timedelta:
    """Parse "30s", "5m", "1h30m", "1d", "250ms" (or a number of seconds) into a timedelta.

    Raises ValueError with a message naming the accepted form.
    """
    if isinstance(text, bool):
        raise ValueError("duration must be a string like '30s' or a number of seconds")
    if isinstance(text, int | float):
        if text < 0:
            raise ValueError("duration must not be negative")
        return timedelta(seconds=text)
    cleaned = text.strip().replace(" ", "")
    if not cleaned:
        raise ValueError("duration is empty; use a form like '30s', '5m', '1h'")
    position = 0
    total = 0.0
    for match in _DURATION_RE.finditer(cleaned):
        if match.start() != position:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        position = match.end()
    if position != len(cleaned):
        raise ValueError(f"invalid duration {text!r}; use a form like '30s', '5m', '1h30m', '1d'")
    return timedelta(seconds=total)


def format_duration(delta: timedelta) -> str:
    """Format a timedelta compactly ("1h 5m", "42s") for people."""
    seconds = int(delta.total_seconds())
    if seconds < 60:
        return f"{seconds}s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        amount, seconds = divmod(seconds, size)
        if amount:
            parts.append(f"{amount}{unit}")
    return " ".join(parts)


def to_iso(moment: datetime) -> str:
    """ISO 8601 with an explicit UTC offset, as Statuspage and feeds expect."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def to_iso_all(moments: Sequence[datetime]) -> list[str]:
    """`to_iso` of each moment, the same text, for a whole batch at a time (ingest's hot path).

    pydantic-core formats the batch in one call (about six times faster than
    `to_iso` per item: that one crosses into pydantic's own tzinfo twice per
    value). Its text for a zero-offset time with a fraction is
    `YYYY-MM-DDTHH:MM:SS.ffffffZ`; cutting it to milliseconds (truncated, as
    `isoformat(timespec="milliseconds")` does) gives `to_iso`'s text. Any other
    shape (another offset, no fraction) goes through `to_iso` itself.
    """
    texts = _datetimes_adapter().dump_python(list(moments), mode="json")
    return [
        text[:23] + "+00:00" if len(text) == 27 and text[26] == "Z" else to_iso(moment)
        for text, moment in zip(texts, moments, strict=True)
    ]


@cache
def _datetimes_adapter() -> Any:
    # Built on first use: the agent imports this module and never calls to_iso_all.
    from pydantic import TypeAdapter

    return TypeAdapter(list[datetime])


def from_iso(text: str) -> datetime:
    """Parse an ISO 8601 time; naive values are taken as UTC."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
