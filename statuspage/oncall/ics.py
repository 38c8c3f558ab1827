"""iCalendar (RFC 5545) feeds of on-call shifts, rendered with the `icalendar` library.

One VEVENT per shift. A shift's UID is a hash of the feed, the responder and
its start, so calendar apps update an event in place when an override
changes who holds it rather than showing both (after GoAlert's calsub).
Times are written in UTC; calendar apps show them in the reader's zone.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime

from icalendar import Calendar, Event

from statuspage import __version__
from statuspage.oncall.rotation import Span


def render_feed(
    feed_name: str,
    title: str,
    shifts: Iterable[tuple[Span, str]],
    labels: dict[str, str],
    host: str,
    now: datetime,
) -> bytes:
    """The calendar of `shifts` (span, schedule name) that have someone on call.

    `labels` maps responder -> display name.
    """
    calendar = Calendar()
    calendar.add("prodid", f"-//upwatch//{__version__}//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", title)
    for span, schedule_name in shifts:
        if span.responder is None:
            continue
        event = Event()
        seed = f"{feed_name}|{schedule_name}|{span.responder}|{span.start.isoformat()}"
        event.add("uid", f"{hashlib.sha256(seed.encode()).hexdigest()[:32]}@{host}")
        event.add("summary", f"On call: {labels.get(span.responder, span.responder)} ({schedule_name})")
        event.add("dtstamp", now)
        event.add("dtstart", span.start)
        event.add("dtend", span.end)
        if span.override_id is not None:
            event.add("description", f"Override #{span.override_id}")
        calendar.add_component(event)
    return bytes(calendar.to_ical())
