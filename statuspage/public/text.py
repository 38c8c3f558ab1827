"""Text helpers for public output: sanitized markdown, times and durations for people."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

from shared.timeutil import format_duration, to_iso

# CommonMark without raw HTML; nh3 (ammonia) then keeps only safe tags and attributes,
# so an operator's postmortem cannot carry script into the public page.
_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False})


def render_markdown(text: str) -> Markup:
    """Markdown -> sanitized HTML, safe to insert into a page."""
    html = _MARKDOWN.render(text)
    return Markup(nh3.clean(html, link_rel="noopener noreferrer nofollow"))  # noqa: S704 - sanitized by nh3


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
