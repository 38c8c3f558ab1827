"""Text helpers for public output: times and durations for people (markdown: statuspage.markdown)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.timeutil import format_duration, to_iso


def iso(moment: datetime | None) -> str:
    """ISO 8601 with the UTC offset, for `datetime` attributes and JSON."""
    return to_iso(moment) if moment else ""


def utc(moment: datetime | None, with_date: bool = True) -> str:
    """`27 Nov 2026 14:05 UTC` for people."""
    if moment is None:
        return ""
    moment = moment.astimezone(UTC)
    return moment.strftime("%d %b %Y %H:%M UTC" if with_date else "%H:%M UTC")


def duration(start: datetime, end: datetime) -> str:
    """A compact, whole-minute duration like `1h 5m` (or `under a minute`)."""
    delta = end - start
    if delta < timedelta(minutes=1):
        return "under a minute"
    return format_duration(timedelta(minutes=int(delta.total_seconds() // 60)))
